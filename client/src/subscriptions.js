// subscriptions.js is the one place the client keeps what it knows of the
// model types it subscribed to: who listens, and where each type's stream
// of pushes stands (the last Seq seen), plus the pushes seen lately, to
// drop one that comes twice while two transports overlap.
//
// A subscriber is any object with push(event, props, seq) and reload():
// the Backbone binding makes one per collection. Subscriptions live in the
// server's session, so the client renews them on every connection, with
// the props resubscribeProps gives: the place where a stream position is
// to go once the server can replay what was missed (docs/protocol.md).

import { SEEN_MAX, SEEN_TTL } from './constants.js';

/** Subscriptions maps model types to their subscribers and stream positions. */
export class Subscriptions {
  constructor(now = Date.now) {
    this.now = now;
    this.streams = new Map(); // model -> {subscribers: Set, seq: number|undefined}
    this.seen = new Map(); // "model/seq" -> when it came
  }

  /** has tells whether anyone subscribed to model. */
  has(model) {
    return this.streams.has(model);
  }

  /** get returns the stream of model, or undefined. */
  get(model) {
    return this.streams.get(model);
  }

  get size() {
    return this.streams.size;
  }

  /** models lists the subscribed model types. */
  models() {
    return Array.from(this.streams.keys());
  }

  /** subscribers lists model's subscribers (none when it has no stream). */
  subscribers(model) {
    const s = this.streams.get(model);
    return s ? Array.from(s.subscribers) : [];
  }

  /** all lists every subscriber of every model. */
  all() {
    const out = [];
    for (const s of this.streams.values()) out.push(...s.subscribers);
    return out;
  }

  /** add adds a subscriber; it tells whether it is model's first (so the server must be told). */
  add(model, subscriber) {
    let s = this.streams.get(model);
    const first = !s;
    if (!s) {
      s = { subscribers: new Set(), seq: undefined };
      this.streams.set(model, s);
    }
    s.subscribers.add(subscriber);
    return first;
  }

  /** remove removes a subscriber; it tells whether it was model's last (so the server must be told). */
  remove(model, subscriber) {
    const s = this.streams.get(model);
    if (!s) return false;
    s.subscribers.delete(subscriber);
    if (s.subscribers.size) return false;
    this.streams.delete(model);
    return true;
  }

  /**
   * resubscribeProps returns the Props of the subscribe request that renews
   * a model's subscription on a new connection: none yet, the client reads
   * the collection again instead (see Client#up).
   */
  resubscribeProps() {
    return [];
  }

  /**
   * subscribed records the subscribe reply's Seq, the stream's latest:
   * every later push has a higher one.
   */
  subscribed(model, top) {
    const s = this.streams.get(model);
    if (s && typeof top === 'number' && (s.seq === undefined || top > s.seq)) s.seq = top;
  }

  /**
   * duplicate tells whether a push was seen in the last SEEN_TTL ms, and
   * remembers it.
   */
  duplicate(model, seq) {
    const key = model + '/' + seq;
    const now = this.now();
    const at = this.seen.get(key);
    if (at !== undefined && now - at < SEEN_TTL) return true;
    this.seen.set(key, now);
    if (this.seen.size > SEEN_MAX) {
      for (const [k, t] of this.seen) if (now - t > SEEN_TTL) this.seen.delete(k);
    }
    return false;
  }

  /**
   * advance moves model's stream to seq and tells whether pushes were
   * missed on the way (a gap in Seq).
   */
  advance(model, seq) {
    const s = this.streams.get(model);
    if (!s) return false;
    const last = s.seq;
    if (typeof seq !== 'number') return false;
    if (last === undefined || seq > last) s.seq = seq;
    return typeof last === 'number' && seq > last + 1;
  }

  /**
   * own counts a Seq the server gave a broadcast of this client's, which it
   * does not push back to the sender, so that the next push does not look
   * like a gap.
   */
  own(model, seq) {
    const s = this.streams.get(model);
    if (s && typeof seq === 'number' && s.seq === seq - 1) s.seq = seq;
  }

  /**
   * newSession forgets every stream position: a new server session may
   * be a restarted server, which counts Seq from 1 again.
   */
  newSession() {
    this.seen.clear();
    for (const s of this.streams.values()) s.seq = undefined;
  }
}
