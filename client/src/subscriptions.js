// subscriptions.js is the one place the client keeps what it knows of the
// model types it subscribed to: who listens, and where each type's stream
// of pushes stands (its position, {seq, epoch}: see streams.js).
//
// A subscriber is any object with push(event, props, seq) and reload(),
// and optionally refused(error): the Backbone binding makes one per
// collection. Subscriptions live in the server's session, so the client
// renews them on every connection, asking to resume from each position
// (resume); the reply (subscribed) says whether the server replays what
// was missed or the subscribers must reload. A position is kept across
// connections and server sessions: it is what the next one resumes from.

import { VERDICT } from './constants.js';
import { isRecovered, parseSubscribeReply, resumeProps, sameEpoch, verdict } from './streams.js';

// A stream is one model type's state:
//
//   subscribers  the Set of its subscribers
//   seq, epoch   its position (undefined until a reply or push names them)
//   fresh        the connection it was last answered on is gone: a Seq
//                the next reply names without an epoch counts from there
//   asked        the position a resubscribe now in flight resumes from
//                (null when none is)
//   held         the highest Seq dropped while asked was set (0: none)
//   filtered     the server sends only some of the type's events (its
//                last reply said so): a skipped Seq is no gap
//   refused      the error the server refused the last subscribe with
//   reloading    the reload under way (a Promise), and reloadAgain, set
//                when another was asked for meanwhile
function newStream() {
  return {
    subscribers: new Set(),
    seq: undefined,
    epoch: undefined,
    fresh: false,
    asked: null,
    held: 0,
    filtered: false,
    refused: null,
    reloading: null,
    reloadAgain: false
  };
}

/** Subscriptions maps model types to their subscribers and stream positions. */
export class Subscriptions {
  constructor() {
    this.streams = new Map(); // model -> stream (see newStream)
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

  /** position returns model's stream position, {seq, epoch}, or undefined without a stream. */
  position(model) {
    const s = this.streams.get(model);
    return s ? { seq: s.seq, epoch: s.epoch } : undefined;
  }

  /** add adds a subscriber; it tells whether it is model's first (so the server must be told). */
  add(model, subscriber) {
    let s = this.streams.get(model);
    const first = !s;
    if (!s) {
      s = newStream();
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
   * adopt takes over the subscribers and positions of other (the
   * Subscriptions of a client this one replaces), so that this one's
   * first connection resumes where that one stopped.
   */
  adopt(other) {
    for (const [model, o] of other.streams) {
      for (const sub of o.subscribers) this.add(model, sub);
      const s = this.streams.get(model);
      if (s.seq === undefined) {
        s.seq = o.seq;
        s.epoch = o.epoch;
        s.fresh = true;
      }
    }
  }

  /**
   * resume returns the Props of the subscribe that renews model's
   * subscription on a new connection, [{since, S}, {epoch, E}] or []
   * (streams.js resumeProps), and notes that a resubscribe is in flight:
   * until its reply, a push beyond the next is held back (see verdict).
   */
  resume(model) {
    const s = this.streams.get(model);
    if (!s) return [];
    s.asked = { seq: s.seq, epoch: s.epoch };
    s.held = 0;
    return resumeProps(s.asked);
  }

  /**
   * abandon notes that model's resubscribe failed (its connection went):
   * the next connection asks again.
   */
  abandon(model) {
    const s = this.streams.get(model);
    if (s) s.asked = null;
  }

  /**
   * subscribed applies the Msg of a subscribe reply to model's stream and
   * returns {seq, epoch, recovered}: recovered is true when the reply
   * resumed the position a resubscribe asked from (the missed pushes
   * follow as ordinary pushes, in order) and no push the client dropped
   * meanwhile lies beyond what they bring. Otherwise the stream takes the
   * reply's position, from where the subscribers reload.
   */
  subscribed(model, msg) {
    const reply = parseSubscribeReply(msg);
    const s = this.streams.get(model);
    if (!s) return { seq: reply.seq, epoch: reply.epoch, recovered: false };
    const asked = s.asked;
    s.asked = null;
    s.refused = null;
    const recovered = isRecovered(asked, reply) && s.held <= reply.seq;
    s.held = 0;
    s.filtered = reply.filtered;
    if (!recovered) this.moveTo(s, reply);
    s.fresh = false;
    return { seq: reply.seq, epoch: reply.epoch, recovered };
  }

  // moveTo sets s's position to reply's. Within one epoch a position only
  // moves forward: while two transports overlap (a switch), the old one
  // may have delivered pushes past the new one's reply. A reply without
  // an epoch (a server before streams) on a new connection may come from
  // a restarted server, which counts Seq from 1 again: it is taken as it
  // is.
  moveTo(s, reply) {
    if (reply.seq === undefined) return;
    const same = reply.epoch === undefined ? s.epoch === undefined && !s.fresh : sameEpoch(reply.epoch, s.epoch);
    if (!same || typeof s.seq !== 'number' || reply.seq > s.seq) s.seq = reply.seq;
    s.epoch = reply.epoch;
  }

  /** refuse records that the server refused model's subscription. */
  refuse(model, err) {
    const s = this.streams.get(model);
    if (!s) return;
    s.asked = null;
    s.refused = err;
  }

  /**
   * accept tells what to do with a push of Seq seq to model (a VERDICT)
   * and moves the stream's position when it is applied.
   */
  accept(model, seq) {
    const s = this.streams.get(model);
    if (!s) return VERDICT.apply;
    const v = verdict(s.seq, seq, s.asked !== null, s.filtered);
    if (v === VERDICT.held) s.held = Math.max(s.held, seq);
    else if (v !== VERDICT.duplicate && typeof seq === 'number') s.seq = seq;
    return v;
  }

  /**
   * own counts the Seq of a broadcast of this client's, which the server
   * does not push back to its sender, so that the next push is no gap.
   * A reply that is not a Seq (or {seq}) changes nothing.
   */
  own(model, msg) {
    const s = this.streams.get(model);
    const seq = parseSubscribeReply(msg).seq;
    if (s && typeof seq === 'number' && s.seq === seq - 1) s.seq = seq;
  }

  /**
   * newSession notes that the connection the streams were answered on
   * is gone: the positions stay (the next connection resumes from them),
   * marked fresh (see moveTo).
   */
  newSession() {
    for (const s of this.streams.values()) {
      s.fresh = true;
      s.asked = null;
    }
  }
}
