// streams.js holds the rules of a model type's stream of pushes, as plain
// functions the rest of the client calls and the tests check one by one.
//
// A stream position is a pair {seq, epoch}: the Seq of the last push the
// client applied, and the epoch the server named in its subscribe reply.
// A Seq means something only with its epoch: the server picks a new one
// when it lost the history the Seqs counted. Servers from before streams
// answer subscribe with a bare integer, the Seq alone: a position without
// an epoch, which can never be resumed.
//
//   parseSubscribeReply  what a subscribe reply says, in either form
//   resumeProps          the Props that ask to resume from a position
//   isRecovered          whether a resubscribe reply resumed the stream
//   verdict              what to do with a push, by its Seq
//   overlayPending       a push as the page should see it while the tab
//                        still has writes of that document queued

import { METHOD, PUSH, STREAM, VERDICT } from './constants.js';

/**
 * parseSubscribeReply reads the Msg of a subscribe (or unsubscribe)
 * reply, as toJS gave it: an integer Seq (servers before streams), or
 * `[{seq, Top}, {epoch, Epoch}]` and, for a resubscribe, `{recovered,
 * Bool}`. It returns {seq, epoch, recovered}: seq a number or undefined
 * when the reply names none, epoch undefined for the integer form, and
 * recovered true only when the server said so; filtered is true when
 * the server sends this subscriber only some of the type's events (an
 * "owner" subscribe rule), so that a skipped Seq is no gap.
 */
export function parseSubscribeReply(msg) {
  if (typeof msg === 'number') return { seq: msg, epoch: undefined, recovered: false, filtered: false };
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return { seq: undefined, epoch: undefined, recovered: false, filtered: false };
  const seq = typeof msg[STREAM.seq] === 'number' ? msg[STREAM.seq] : undefined;
  // {bert, true} decodes to true; a bare atom true to its name.
  const yes = (v) => v === true || v === 'true';
  return { seq, epoch: msg[STREAM.epoch], recovered: yes(msg[STREAM.recovered]), filtered: yes(msg[STREAM.filtered]) };
}

/**
 * sameEpoch tells whether two epochs are the same binary: each is a
 * string (a binary that was UTF-8) or a Uint8Array (one that was not).
 */
export function sameEpoch(a, b) {
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (typeof a === 'string' && typeof b === 'string') return a === b;
  const x = epochBytes(a);
  const y = epochBytes(b);
  if (!x || !y || x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function epochBytes(e) {
  if (typeof e === 'string') return new TextEncoder().encode(e);
  if (e instanceof Uint8Array) return e;
  return null;
}

/**
 * resumeProps returns the Props of a subscribe that asks to resume from
 * position ({since: S, epoch: E}, a proplist on the wire), or [] when the
 * position cannot be resumed: no Seq yet, or no epoch (a server before
 * streams, which would not understand the question).
 */
export function resumeProps(position) {
  if (!position || typeof position.seq !== 'number' || position.epoch === undefined || position.epoch === null) return [];
  return { [STREAM.since]: position.seq, [STREAM.epoch]: position.epoch };
}

/**
 * isRecovered tells whether reply (parseSubscribeReply's) resumed the
 * stream at asked (the position resumeProps was given): the server says
 * so, in the epoch asked for, at or beyond the Seq asked for. Anything
 * else (a reply without epoch, another epoch, a Seq behind) means the
 * missed pushes will not come and the subscribers must reload.
 */
export function isRecovered(asked, reply) {
  if (!asked || typeof asked.seq !== 'number' || !reply.recovered) return false;
  if (!sameEpoch(asked.epoch, reply.epoch)) return false;
  return typeof reply.seq === 'number' && reply.seq >= asked.seq;
}

/**
 * verdict tells what a push of Seq seq does to a stream at position last
 * (a number, or undefined before the first): VERDICT.apply for the next
 * one, duplicate for one at or below it, gap for one beyond the next,
 * or held for that while a resubscribe is unanswered (resuming): the
 * reply's replay may bring what lies between, and the push with it.
 * A push without a numeric Seq is applied: nothing tells it apart. On a
 * filtered stream (see parseSubscribeReply) the Seqs between are others'
 * events, so a push beyond the next is applied too.
 */
export function verdict(last, seq, resuming, filtered) {
  if (typeof seq !== 'number' || typeof last !== 'number') return VERDICT.apply;
  if (seq <= last) return VERDICT.duplicate;
  if (seq === last + 1 || filtered) return VERDICT.apply;
  return resuming ? VERDICT.held : VERDICT.gap;
}

/**
 * overlayPending returns the attributes a subscriber should apply for a
 * push (event, props) of a document that the tab has writes queued for
 * (pending: their queue items, oldest first), or null for none at all.
 * The server has not seen those writes yet: shown as pushed, the page
 * would flip the user's own changes back until they land (after a
 * recovery replays what others did meanwhile, say). So the queued
 * attributes are laid over the pushed ones, and a document the tab
 * deleted stays deleted. A `deleted` push is the server's word and is
 * shown as it is: a queued update of that document then fails, and is
 * reported, when it lands.
 */
export function overlayPending(event, props, pending) {
  if (!pending || !pending.length || event === PUSH.deleted || event === PUSH.broadcast) return props;
  let out = Object.assign({}, props);
  for (const item of pending) {
    if (item.method === METHOD.delete) out = null;
    else if (item.method !== METHOD.broadcast) out = Object.assign(out || {}, item.props);
  }
  return out;
}
