// protocol.js is the application protocol over BERT (docs/protocol.md):
// the requests the client sends and what the server's messages mean.
//
//   {sync, Method, Model, Props, Ref}       a request
//   {sync, ok, Msg, Ref}                    its reply
//   {sync, error, {Code, Message}, Ref}     or its refusal
//   {sync, Event, Model, Props, Seq}        a push to subscribers

import { CODE, PUSH, REPLY, SYNC } from './constants.js';
import { toJS } from './decode.js';
import { encode } from './encode.js';
import { BertsyncError } from './errors.js';
import { Atom, Tuple } from './terms.js';

const PUSH_EVENTS = new Set(Object.values(PUSH));

/** encodeRequest returns the bytes of {sync, Method, Model, Props, Ref}; it throws a CodecError for props it cannot write. */
export function encodeRequest(method, model, props, ref) {
  return encode(new Tuple([new Atom(SYNC), new Atom(method), new Atom(model), props, ref]));
}

/** replyError turns the Reason of {sync, error, Reason, Ref} into a BertsyncError. */
export function replyError(reason) {
  if (reason instanceof Tuple && reason.items.length === 2) {
    return new BertsyncError(toJS(reason.items[0]), String(toJS(reason.items[1])));
  }
  return new BertsyncError(CODE.internal, String(toJS(reason)));
}

/**
 * parseMessage tells what a decoded message from the server is:
 *
 *   {kind: 'reply', ref, value}            ok, with the Msg as plain JS
 *   {kind: 'reply', ref, error}            error, a BertsyncError
 *   {kind: 'push', event, model, props, seq}
 *   {kind: 'unknown'}
 *
 * ref is undefined for a reply without one (to a request that had none).
 */
export function parseMessage(term) {
  if (!(term instanceof Tuple) || !(term.items[0] instanceof Atom) || term.items[0].name !== SYNC) return { kind: 'unknown' };
  const it = term.items;
  const kind = it[1] instanceof Atom ? it[1].name : '';
  if ((kind === REPLY.ok || kind === REPLY.error) && (it.length === 3 || it.length === 4)) {
    const ref = it.length === 4 ? it[3] : undefined;
    if (kind === REPLY.ok) return { kind: 'reply', ref, value: toJS(it[2]) };
    return { kind: 'reply', ref, error: replyError(it[2]) };
  }
  if (it.length === 5 && PUSH_EVENTS.has(kind)) {
    const model = it[2] instanceof Atom ? it[2].name : String(it[2]);
    return { kind: 'push', event: kind, model, props: toJS(it[3]), seq: it[4] };
  }
  return { kind: 'unknown' };
}
