// fakes.mjs holds the stand-ins the unit tests run the client against: a
// Storage that counts what is written to it, and a scripted server with
// transport classes to reach it. (It lives outside test/, where node --test
// would take every file for a test file.)
import { AuthError, CODE, Transport, decode, encode, Atom, Tuple, toJS } from '../src/index.js';

/** CountingStorage is a Storage that counts setItem/removeItem calls and the bytes written. */
export class CountingStorage {
  constructor() {
    this.map = new Map();
    this.writes = 0;
    this.removes = 0;
    this.bytes = 0;
    this.failOn = null; // a predicate of (key, value): that setItem throws, as a full storage does
  }

  getItem(k) {
    return this.map.has(k) ? this.map.get(k) : null;
  }

  setItem(k, v) {
    v = String(v);
    if (this.failOn && this.failOn(k, v)) throw new Error('QuotaExceededError');
    this.writes++;
    this.bytes += k.length + v.length;
    this.map.set(k, v);
  }

  removeItem(k) {
    this.removes++;
    this.map.delete(k);
  }

  key(i) {
    return Array.from(this.map.keys())[i] ?? null;
  }

  get length() {
    return this.map.size;
  }

  reset() {
    this.writes = 0;
    this.removes = 0;
    this.bytes = 0;
  }
}

/**
 * FakeServer answers the requests its transports carry as the real one
 * would for a document model: create/update/patch echo their props, read
 * returns the stored documents, broadcast answers its Seq and pushes to
 * the other subscribers. Each model type is a stream (docs/client.md,
 * Streams): Seq +1 per event of the type, a history of the last
 * `historySize` events. With `epoch` null subscribe answers the bare Seq
 * (a server before streams); with an epoch (a string or a Uint8Array)
 * `[{seq, Top}, {epoch, Epoch}]`, and a subscribe with `since` and
 * `epoch` is resumed when it can be: `{recovered, true}`, then the missed
 * events as pushes on that transport, in order (`replay`, when set,
 * decides which are sent: (events) => events). Only transports that
 * subscribed to a type hear its pushes. `up` says whether transports may
 * open; `log` lists the requests in the order they came ([method, model,
 * props, token]).
 * `accept(token)`, when set, says which tokens it takes: a transport with
 * another is refused as a 401 would be; `expire(token)` ends the
 * transports of a token as an expiry (a 4401 close) would.
 */
export class FakeServer {
  constructor() {
    this.up = true;
    this.log = [];
    this.opened = []; // names of the transports that tried to open, in order
    this.tokens = []; // the token each of those presented (null for none)
    this.accept = null; // (token) => whether a transport presenting it may open
    this.live = new Set();
    this.docs = new Map();
    this.streams = new Map(); // model -> {seq, history: [[event, props, seq]]}
    this.epoch = null;
    this.historySize = Infinity;
    this.replay = null;
    this.refuse = null; // (method, model, props) => [code, message] to refuse a request
    this.hold = false; // when true, requests are logged and never answered
    this.broken = new Set(); // names of transports that fail to open even when up
  }

  /** transport returns a transport class named name that reaches this server. */
  transport(name) {
    const server = this;
    return class FakeTransport extends Transport {
      constructor(opts) {
        super(opts);
        this.name = name;
      }

      open() {
        server.opened.push(name);
        server.tokens.push(this.opts.token);
        if (!server.up || server.broken.has(name)) return Promise.reject(Object.assign(new Error(name + ': refused'), { transient: true }));
        if (server.accept && !server.accept(this.opts.token)) return Promise.reject(new AuthError(name + ': HTTP 401: bad token'));
        this.subs = new Set();
        server.live.add(this);
        return Promise.resolve(this);
      }

      send(bytes) {
        if (!server.live.has(this)) return Promise.reject(Object.assign(new Error('closed'), { transient: true }));
        const term = decode(bytes);
        const [, method, model, props, ref] = term.items;
        queueMicrotask(() => server.answer(this, method.name, model.name, toJS(props), ref, this.opts.token));
        return Promise.resolve();
      }

      close() {
        this.closed = true;
        server.live.delete(this);
      }
    };
  }

  /** expire ends the open transports presenting token, as the server does when it expires. */
  expire(token) {
    for (const t of Array.from(this.live)) {
      if (t.opts.token !== token) continue;
      this.live.delete(t);
      t.gone('closed (4401 token expired)', CODE.unauthorized);
    }
  }

  /** drop ends every open transport, as a dying server would. */
  drop() {
    const live = Array.from(this.live);
    this.live.clear();
    for (const t of live) t.gone('dropped');
  }

  answer(t, method, model, props, ref, token) {
    if (props && !Array.isArray(props) && typeof props === 'object') props = { ...props };
    else props = {};
    this.log.push([method, model, props, token]);
    if (this.hold) return;
    const reply = (value) => t.onmessage(encode(new Tuple([new Atom('sync'), new Atom('ok'), value, ref])));
    const stream = this.stream(model);
    const refuse = this.refuse && this.refuse(method, model, props);
    if (refuse) {
      t.onmessage(encode(new Tuple([new Atom('sync'), new Atom('error'), new Tuple([new Atom(refuse[0]), refuse[1]]), ref])));
      return;
    }
    const docs = this.docs.get(model) || new Map();
    this.docs.set(model, docs);
    switch (method) {
      case 'create':
      case 'update':
      case 'patch':
        docs.set(props.id, { ...(docs.get(props.id) || {}), ...props });
        reply(docs.get(props.id));
        this.pushAll(method === 'create' ? 'created' : 'updated', model, docs.get(props.id));
        return;
      case 'delete':
        docs.delete(props.id);
        reply({ id: props.id });
        this.pushAll('deleted', model, { id: props.id });
        return;
      case 'read':
        reply(props.id === undefined ? Array.from(docs.values()) : docs.get(props.id));
        return;
      case 'broadcast':
        // Pushed to every subscriber but the sender.
        reply(this.pushAll('broadcast', model, props, t));
        return;
      case 'subscribe':
        this.subscribe(t, model, props, reply);
        return;
      case 'unsubscribe':
        t.subs.delete(model);
        reply(this.position(stream));
        return;
      default:
        reply(this.position(stream));
    }
  }

  stream(model) {
    if (!this.streams.has(model)) this.streams.set(model, { seq: 0, history: [] });
    return this.streams.get(model);
  }

  // position is what subscribe answers: the bare Seq, or the new form.
  position(stream, recovered) {
    if (this.epoch === null) return stream.seq;
    const p = { seq: stream.seq, epoch: this.epoch };
    if (recovered !== undefined) p.recovered = recovered;
    return p;
  }

  subscribe(t, model, props, reply) {
    const stream = this.stream(model);
    t.subs.add(model);
    if (this.epoch === null || props.since === undefined) {
      reply(this.position(stream));
      return;
    }
    const since = props.since;
    const first = stream.history.length ? stream.history[0][2] : stream.seq + 1;
    const ok = sameBytes(props.epoch, this.epoch) && since <= stream.seq && first <= since + 1;
    reply(this.position(stream, ok));
    if (!ok) return;
    let missed = stream.history.filter((e) => e[2] > since);
    if (this.replay) missed = this.replay(missed);
    for (const [event, p, seq] of missed) t.onmessage(pushBytes(event, model, p, seq));
  }

  // record appends an event to model's history and returns its Seq.
  record(event, model, props, seq) {
    const stream = this.stream(model);
    if (seq === undefined) seq = stream.seq + 1;
    stream.seq = Math.max(stream.seq, seq);
    stream.history.push([event, props, seq]);
    while (stream.history.length > this.historySize) stream.history.shift();
    return seq;
  }

  // pushAll records an event and sends it to every transport subscribed
  // to model but except (the sender of a broadcast); the writer of a
  // change hears it too, as from the real server. It returns the Seq.
  pushAll(event, model, props, except = null) {
    const seq = this.record(event, model, props);
    for (const t of this.live) if (t !== except && t.subs.has(model)) t.onmessage(pushBytes(event, model, props, seq));
    return seq;
  }

  /**
   * change makes a change as another client would: stored, recorded and
   * pushed to the subscribers that are connected. It returns the Seq.
   */
  change(event, model, props) {
    const docs = this.docs.get(model) || new Map();
    this.docs.set(model, docs);
    if (event === 'deleted') docs.delete(props.id);
    else if (event !== 'broadcast') docs.set(props.id, { ...(docs.get(props.id) || {}), ...props });
    return this.pushAll(event, model, props);
  }

  /** push sends a push with Seq seq (default: the next) to every transport subscribed to model, as it is: no check. */
  push(event, model, props, seq) {
    seq = this.record(event, model, props, seq);
    for (const t of this.live) if (t.subs.has(model)) t.onmessage(pushBytes(event, model, props, seq));
  }

  /** reads counts the collection reads of model the server answered. */
  reads(model) {
    return this.log.filter(([m, name, p]) => m === 'read' && name === model && p.id === undefined).length;
  }
}

function pushBytes(event, model, props, seq) {
  return encode(new Tuple([new Atom('sync'), new Atom(event), new Atom(model), props, seq]));
}

// sameBytes compares two epochs as the server would: as binaries.
function sameBytes(a, b) {
  const bytes = (e) => (typeof e === 'string' ? new TextEncoder().encode(e) : e);
  const x = bytes(a);
  const y = bytes(b);
  return x instanceof Uint8Array && y instanceof Uint8Array && x.length === y.length && x.every((v, i) => v === y[i]);
}

/** next resolves with the arguments of emitter's next event name for which pred(...args) holds. */
export function next(emitter, name, pred = () => true) {
  return new Promise((resolve) => {
    const fn = (...args) => {
      if (!pred(...args)) return;
      emitter.off(name, fn);
      resolve(args);
    };
    emitter.on(name, fn);
  });
}

/** fast are client options that keep the tests quick. */
export const fast = { backoffMin: 2, backoffMax: 10, readWait: 30, requestTimeout: 2000, probeInterval: 0, pingInterval: 0, storage: null };

/** fakeJWT returns an unsigned-looking JWT with claims as its payload (the client only reads it). */
export function fakeJWT(claims) {
  const b64url = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return b64url({ alg: 'HS256', typ: 'JWT' }) + '.' + b64url(claims) + '.c2lnbmF0dXJl';
}
