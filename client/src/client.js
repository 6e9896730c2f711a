// client.js is the Client: one logical connection to the Bullet endpoint.
// It picks a transport and reconnects (timer.js), correlates replies with
// requests by Ref (protocol.js), sends the offline queue in order
// (queue.js), keeps the cache (cache.js) and hands pushes to subscribers
// (subscriptions.js), resuming each model type's stream of them after a
// reconnect (streams.js). It knows nothing of Backbone: backbone.js binds it.
// It holds the token every transport presents, and renews it when the
// server refuses it or, for a JWT, shortly before it expires (jwt.js).
//
// The constructor only configures: nothing is opened or timed before
// connect(). Writes made before it are answered as offline ones and wait
// in memory, stored in the tab's queue once connect() has claimed it.

import {
  AUTH_RENEW_TRIES, CODE, DEFAULTS, HTTP_UNAUTHORIZED, METHOD, PUSH, RENEW, RETIRE_TIMEOUT, STATE, TIMER_MAX, VERDICT
} from './constants.js';
import { DocumentCache } from './cache.js';
import { decodeAsync } from './decode.js';
import { AuthError, BertsyncError, TransportError, isAuthError, isRetryable } from './errors.js';
import { Emitter } from './events.js';
import { newId } from './ids.js';
import { renewDelay } from './jwt.js';
import { encodeRequest, parseMessage } from './protocol.js';
import { OfflineQueue } from './queue.js';
import { resolveStorage } from './storage.js';
import { overlayPending } from './streams.js';
import { Subscriptions } from './subscriptions.js';
import { ReconnectTimer, backoff, jitter } from './timer.js';
import { resolveTransports } from './transports/index.js';
import { tokenRefused } from './transports/http.js';
import { upload } from './upload.js';

function isAttributes(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// checkToken returns token as the client keeps it: a string, or null for
// none ('' and undefined too); what gave it is named in the error.
function checkToken(token, from) {
  if (token === undefined || token === null || token === '') return null;
  if (typeof token !== 'string') throw new TypeError('bertsync: ' + from + ': a token is a string or null, not ' + typeof token);
  return token;
}

/**
 * Client is one logical connection to the server; options are those of
 * DEFAULTS (docs/client.md). Its events are listed in docs/client.md.
 *
 *   const client = new Client({ url: '/bullet' });
 *   client.connect();
 */
export class Client extends Emitter {
  constructor(options = {}) {
    super();
    const opts = Object.assign({}, DEFAULTS, options);
    opts.transports = Array.from(opts.transports);
    // The token lives in this.token, which changes; transportOptions hands
    // it to the transports.
    this.token = checkToken(opts.token, 'the token option');
    this.tokenGiven = Boolean(options) && options.token !== undefined;
    delete opts.token;
    if (opts.renewToken !== null && opts.renewToken !== undefined && typeof opts.renewToken !== 'function') {
      throw new TypeError('bertsync: the renewToken option is a function returning a Promise of a token');
    }
    this.opts = opts;
    // A channel of its own per client and token: see transports/url.js.
    this.channel = newId();
    this.tokenGen = 0; // counts token changes: a renewal or switch of an older token stops
    this.renewing = null; // the renewToken call under way
    this.renewTimer = null; // the renewal ahead of a JWT's exp
    this.authFailures = 0; // refusals of the token since the last connection
    this.authStopped = false; // refused, nothing to renew: no try until setToken or reconnectNow
    this.switchGate = null; // while moving to a new token's connection: requests wait for it
    this.transportClasses = resolveTransports(opts.transports);
    this.storage = resolveStorage(opts.storage, opts.prefix);
    this.cache = new DocumentCache(this.storage, opts.prefix);
    this.queue = new OfflineQueue({ storage: this.storage, prefix: opts.prefix });
    this.queue.on('adopted', (n) => {
      this.trigger('adopted', n);
      this.trigger('pending', this.pending);
      this.pump();
    });
    this.queue.on('error', (e) => this.trigger('error', e));
    this.queueOpen = null;
    this.subscriptions = new Subscriptions();

    this.state = STATE.offline;
    this.transport = null;
    this.started = false; // between connect() and disconnect()
    this.run = 0; // counts connect()s and restartLoop()s: a loop of an earlier one stops
    this.connecting = false; // a connect loop is trying the transports

    this.ref = 0;
    this.pendingReplies = new Map(); // Ref -> {transport, promise, resolve, reject, timer}
    this.waiters = new Map(); // queue item id -> {resolve, reject} until its promise settles
    this.late = new Map(); // queue item id -> {landed(res), refused(err)}, for writes settled offline
    this.pumping = false;
    this.drainWaiters = [];

    this.reconnectTimer = new ReconnectTimer(() => this.connectLoop(), (tries) => backoff(tries, opts.backoffMin, opts.backoffMax));
    this.probeTimer = new ReconnectTimer(() => this.probe(), () => jitter(opts.probeInterval));
    this.pumpTimer = new ReconnectTimer(() => this.pump(), () => jitter(opts.backoffMax));
    // A refused token is not tried again because the network came back.
    this.onOnline = () => {
      if (!this.authStopped) this.reconnectNow();
    };
  }

  /** pending is the number of queued writes. */
  get pending() {
    return this.queue.length;
  }

  /**
   * connect starts the I/O: it claims the tab's offline queue and tries
   * the transports in order, then keeps a connection up until disconnect
   * or close. It returns the client; calling it again does nothing.
   */
  connect() {
    if (this.started) return this;
    this.started = true;
    this.run++;
    if (typeof globalThis.addEventListener === 'function') globalThis.addEventListener('online', this.onOnline);
    this.openQueue();
    this.setState(STATE.connecting);
    this.scheduleRenewal();
    this.connectLoop();
    return this;
  }

  /**
   * disconnect closes the connection and stops reconnecting; the queue
   * and the subscriptions stay, and connect() takes up from there.
   * Requests waiting for a reply fail (queued writes stay queued).
   */
  disconnect() {
    if (!this.started) return this;
    this.started = false;
    this.run++;
    this.connecting = false;
    this.authStopped = false;
    this.authFailures = 0;
    this.reconnectTimer.reset();
    this.probeTimer.cancel();
    this.pumpTimer.cancel();
    clearTimeout(this.renewTimer);
    this.renewTimer = null;
    if (typeof globalThis.removeEventListener === 'function') globalThis.removeEventListener('online', this.onOnline);
    const t = this.transport;
    this.transport = null;
    if (t) {
      t.retired = true;
      t.close();
    }
    this.failPendingRequests(new TransportError('client disconnected'));
    this.setState(STATE.offline);
    return this;
  }

  /** close is disconnect that also lets go of the tab's queue (it stays stored, for a later client). */
  close() {
    this.disconnect();
    this.queue.close();
    this.queueOpen = null;
    return this;
  }

  /**
   * takeOver carries over what a client this one replaces (and that was
   * closed) held in memory only: its subscribers, the listeners of its
   * queued writes, the writes it had not stored yet (made before its
   * connect()), and its token unless this one's options named one. Call
   * it before connect().
   */
  takeOver(old) {
    if (!this.tokenGiven && old.token) this.token = old.token;
    this.subscriptions.adopt(old.subscriptions);
    for (const [qid, late] of old.late) this.late.set(qid, late);
    for (const item of old.queue.unstored()) this.queue.push(item);
  }

  // openQueue claims the tab's queue (once), then sends what it holds.
  openQueue() {
    if (!this.queueOpen) {
      this.queueOpen = this.queue.open().then(() => {
        this.trigger('pending', this.pending);
        this.pump();
      });
    }
    return this.queueOpen;
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.trigger('state', state, this.transport && this.transport.name);
  }

  // transportOptions is what a transport is made with: the one place the
  // current token and channel go in, so that every transport, and so every
  // request and queued write it carries, presents the current token.
  transportOptions() {
    const o = Object.assign({}, this.opts, { token: this.token, channel: this.channel });
    delete o.renewToken;
    return o;
  }

  makeTransport(Transport) {
    const t = new Transport(this.transportOptions());
    t.inbox = Promise.resolve();
    t.onmessage = (bytes) => {
      // Decoding may be async (compressed terms): a chain keeps the order.
      t.inbox = t.inbox
        .then(() => decodeAsync(bytes))
        .then((term) => this.receive(term))
        .catch((e) => this.trigger('error', e));
    };
    t.onerror = (e) => this.trigger('error', e);
    t.onclose = (why, code) => this.down(t, why, code);
    return t;
  }

  // openBest tries the transports in order and resolves with the first
  // that opens ({t, i}: it and its index), or rejects with the last
  // failure. A refused token (AuthError) ends the round at once, as does
  // current() turning false. When every transport failed without showing
  // why (a WebSocket or EventSource hides the HTTP status) and there is a
  // token, one POST asks whether the token was the cause.
  async openBest(current) {
    const classes = this.transportClasses;
    let lastErr = null;
    let hidden = true;
    for (let i = 0; i < classes.length && current(); i++) {
      const t = this.makeTransport(classes[i]);
      try {
        await t.open();
        return { t, i };
      } catch (err) {
        if (isAuthError(err)) throw err;
        lastErr = err;
        if (!(err && err.statusUnknown)) hidden = false;
      }
    }
    if (lastErr && hidden && this.token && current()) {
      const why = await tokenRefused(this.transportOptions());
      if (why) throw new AuthError(why);
    }
    throw lastErr || new TransportError('no transport');
  }

  // connectLoop tries the transports in order until one opens; when none
  // does, it tries again after the reconnect timer's delay, and when the
  // server refused the token, it renews it (refused).
  connectLoop() {
    if (!this.started || this.connecting || this.authStopped) return;
    this.connecting = true;
    this.reconnectTimer.cancel();
    const run = this.run;
    this.openBest(() => run === this.run).then(
      ({ t, i }) => {
        if (run !== this.run) {
          t.retired = true;
          t.close();
          return;
        }
        this.connecting = false;
        this.reconnectTimer.reset();
        this.up(t, i > 0);
      },
      (err) => {
        if (run !== this.run) return;
        this.connecting = false;
        this.setState(STATE.offline);
        this.failPendingRequests(err);
        if (isAuthError(err)) {
          this.refused(err);
          return;
        }
        const delay = this.reconnectTimer.scheduleTimeout();
        this.trigger('retry', delay, err);
      }
    );
  }

  // restartLoop starts the connect loop again, so that the transports it
  // has yet to try are made with the token just set.
  restartLoop() {
    this.run++;
    this.connecting = false;
    this.connectLoop();
  }

  /**
   * reconnectNow retries at once while offline (a page's "online" event
   * does too), also after the server refused the token and the client
   * stopped (which the "online" event does not undo).
   */
  reconnectNow() {
    if (!this.started || this.state === STATE.online || this.connecting) return;
    this.authStopped = false;
    this.authFailures = 0;
    this.reconnectTimer.reset();
    this.connectLoop();
  }

  // refused handles the server refusing the token (err, an AuthError):
  // renewToken is asked for a new one and the client connects again with
  // it, at once the first time and after the reconnect backoff when the
  // new one was refused too. With no renewToken, or after AUTH_RENEW_TRIES
  // refusals in a row, it stops and reports err on "error": a refused
  // token is not tried again until setToken or reconnectNow. A renewToken
  // that fails (rejects) is asked again after the backoff, like a
  // connection that failed.
  refused(err) {
    this.authFailures++;
    if (typeof this.opts.renewToken !== 'function' || this.authFailures > AUTH_RENEW_TRIES) {
      this.authStopped = true;
      this.reconnectTimer.reset();
      this.trigger('error', err);
      return;
    }
    const run = this.run;
    this.renew(RENEW.refused).then(
      () => {
        if (run !== this.run || this.state === STATE.online || this.connecting) return;
        if (this.authFailures === 1) this.connectLoop();
        else this.trigger('retry', this.reconnectTimer.scheduleTimeout(), err);
      },
      (e) => {
        if (run !== this.run) return;
        this.authFailures--;
        this.trigger('error', e);
        this.trigger('retry', this.reconnectTimer.scheduleTimeout(), e);
      }
    );
  }

  /**
   * setToken makes token (a string, or null for none) the one the client
   * presents from now on. Connected, it moves to a new connection made
   * with it (the old one is closed once its replies are in), so that the
   * server sees the new identity; offline, it tries to connect at once,
   * also after the server refused the old token.
   */
  setToken(token) {
    token = checkToken(token, 'setToken');
    this.authFailures = 0;
    if (token !== this.token) this.useToken(token, 'set');
    if (this.state !== STATE.online && !this.connecting) this.reconnectNow();
  }

  // useToken makes token the current one (why: 'set' or 'renewed', for the
  // "token" event) and moves an open connection to it.
  useToken(token, why) {
    this.token = token;
    this.tokenGen++;
    // A new server session for a new token: a polling session belongs to
    // the token it began with.
    this.channel = newId();
    this.authStopped = false;
    this.scheduleRenewal();
    this.trigger('token', why);
    if (!this.started) return;
    if (this.state === STATE.online) this.switchTransport();
    else if (this.connecting) this.restartLoop();
  }

  /**
   * renew asks renewToken (once at a time: callers share the call) for a
   * new token and makes it the current one; it resolves once it is, and
   * rejects with renewToken's failure, or a TypeError for an answer that
   * is neither a string nor null. A token set meanwhile by setToken wins.
   */
  renew(reason) {
    if (this.renewing) return this.renewing;
    const fn = this.opts.renewToken;
    if (typeof fn !== 'function') return Promise.reject(new AuthError('no renewToken to renew the token with'));
    const gen = this.tokenGen;
    const p = Promise.resolve()
      .then(() => fn(reason))
      .then((token) => {
        token = checkToken(token, 'renewToken');
        if (gen === this.tokenGen) this.useToken(token, 'renewed');
      })
      .finally(() => {
        if (this.renewing === p) this.renewing = null;
      });
    this.renewing = p;
    return p;
  }

  // scheduleRenewal sets the timer that renews a JWT renewBefore its exp
  // (jwt.js), when there is a renewToken; a failed renewal is reported,
  // and the token is then renewed when the server refuses it.
  scheduleRenewal() {
    clearTimeout(this.renewTimer);
    this.renewTimer = null;
    if (!this.started || typeof this.opts.renewToken !== 'function' || !this.opts.renewBefore) return;
    const delay = renewDelay(this.token, Date.now(), this.opts.renewBefore);
    if (delay === null) return;
    const gen = this.tokenGen;
    this.renewTimer = setTimeout(() => {
      this.renewTimer = null;
      // Beyond what setTimeout can wait: look again then.
      if (delay > TIMER_MAX) {
        this.scheduleRenewal();
        return;
      }
      this.renew(RENEW.expiring).catch((e) => {
        if (gen === this.tokenGen) this.trigger('error', e);
      });
    }, Math.min(delay, TIMER_MAX));
  }

  // switchTransport moves the connection to a transport made with the
  // current token, the old one retired once its replies are in (as after
  // a probe). Requests made meanwhile wait (at most openTimeout), so that
  // what a page does after setToken goes as the new identity. Should none
  // open, the old connection goes on until the server ends it; should the
  // server refuse the new token, the old connection is dropped and the
  // refusal handled as any other.
  switchTransport() {
    const run = this.run;
    const gen = this.tokenGen;
    const current = () => run === this.run && gen === this.tokenGen && this.state === STATE.online;
    let release;
    const gate = new Promise((resolve) => {
      release = resolve;
    });
    gate.then(() => {
      if (this.switchGate === gate) this.switchGate = null;
    });
    const timer = setTimeout(release, this.opts.openTimeout);
    this.switchGate = gate;
    const opened = () => {
      clearTimeout(timer);
      if (this.switchGate === gate) this.switchGate = null;
      release();
    };
    this.openBest(current).then(
      ({ t, i }) => {
        opened();
        if (!current()) {
          t.retired = true;
          t.close();
          return;
        }
        // The requests let through above run after this: on t.
        this.up(t, i > 0);
      },
      (err) => {
        opened();
        if (!current() || !isAuthError(err)) return;
        const old = this.transport;
        old.retired = true;
        old.close();
        this.lose(old, err);
        this.refused(err);
      }
    );
  }

  // up makes t the transport. Subscriptions live in the server's session:
  // renew them, each asking to resume its stream, then send what was
  // queued. A stream the server resumed gets what it missed as ordinary
  // pushes, right after the reply and before any live push (the queue's
  // own included), so the page sees every change in the server's order;
  // the subscribers of the others reload once the queue is sent, so that
  // what they read holds the tab's own writes.
  up(t, fallback) {
    const old = this.transport;
    // Not a switch of transports: the server session the streams were
    // answered in is gone (see Subscriptions#newSession).
    if (!old) this.subscriptions.newSession();
    this.transport = t;
    this.authFailures = 0;
    this.setState(STATE.online);
    this.trigger('transport', t.name);
    const models = this.subscriptions.models();
    Promise.all(models.map((m) => this.resubscribe(m)))
      .then((reload) => {
        if (old) this.retire(old);
        this.pump();
        return this.drained().then(() => reload);
      })
      .then((reload) => {
        const reloaded = models.filter((m, i) => reload[i]);
        for (const m of reloaded) this.reload(m);
        this.trigger('synced', reloaded);
      });
    if (fallback) this.scheduleProbe();
  }

  // resubscribe renews model's subscription on the new connection and
  // resolves with whether its subscribers must reload: not when the
  // server resumed the stream, nor when the connection went meanwhile
  // (the next one asks again), nor when the server refused it (refusal).
  // A replay is not awaited: pushes of it that never come show as a gap
  // at the next push. (Where the rules let a subscriber hear only its
  // own documents, the replay ends short of Top by design.)
  resubscribe(model) {
    const props = this.subscriptions.resume(model);
    return this.sendSubscribe(model, props).then(
      (pos) => {
        this.trigger('resubscribed', model, pos.recovered, pos.seq);
        return !pos.recovered;
      },
      (err) => {
        if (err && err.transient) {
          this.subscriptions.abandon(model);
          return false;
        }
        this.refusal(model, err);
        return false;
      }
    );
  }

  // refusal reports that the server refused model's subscription on a
  // new connection, where no caller waits for the answer: on the client's
  // error event (with {method: 'subscribe', model}) and to each subscriber
  // that has a refused(err). The subscribers stay: the next connection
  // asks again (a new token may be let in), until unsubscribe.
  refusal(model, err) {
    this.subscriptions.refuse(model, err);
    this.trigger('error', err, { method: METHOD.subscribe, model });
    for (const s of this.subscriptions.subscribers(model)) {
      if (typeof s.refused === 'function') s.refused(err);
    }
  }

  // reload has model's subscribers read what they show again, one round
  // at a time: asked for during one, another round follows it, since the
  // reads under way may have been answered before what made it ask.
  reload(model) {
    const s = this.subscriptions.get(model);
    if (!s || s.refused) return;
    if (s.reloading) {
      s.reloadAgain = true;
      return;
    }
    this.trigger('reload', model);
    const rounds = Array.from(s.subscribers).map((sub) => {
      try {
        return Promise.resolve(sub.reload()).catch(() => {});
      } catch {
        return undefined; // a subscriber's failure is its own
      }
    });
    s.reloading = Promise.all(rounds).then(() => {
      s.reloading = null;
      if (!s.reloadAgain) return;
      s.reloadAgain = false;
      this.reload(model);
    });
  }

  // retire closes a transport that another replaced, once the replies it
  // owes have come (or RETIRE_TIMEOUT has passed).
  retire(old) {
    const inFlight = [];
    this.pendingReplies.forEach((p) => {
      if (p.transport === old) inFlight.push(p.promise.catch(() => {}));
    });
    let timer = null;
    const close = () => {
      if (old.retired) return;
      clearTimeout(timer);
      old.retired = true;
      old.close();
    };
    timer = setTimeout(close, RETIRE_TIMEOUT);
    Promise.all(inFlight).then(close);
  }

  scheduleProbe() {
    this.probeTimer.cancel();
    if (!this.opts.probeInterval || !this.transport || this.transport.constructor === this.transportClasses[0]) return;
    this.probeTimer.scheduleTimeout();
  }

  // probe tries the first (best) transport while on a fallback, and moves
  // to it when it opens: bullet.js never goes back, this client does.
  probe() {
    if (!this.started || this.state !== STATE.online) return;
    const run = this.run;
    const t = this.makeTransport(this.transportClasses[0]);
    t.open().then(
      () => {
        if (run !== this.run || this.state !== STATE.online) {
          t.retired = true;
          t.close();
          return;
        }
        this.trigger('probe', t.name, true);
        this.up(t, false);
      },
      () => {
        this.trigger('probe', t.name, false);
        this.scheduleProbe();
      }
    );
  }

  // down handles the end of the transport in use. Ended for the token it
  // presents (code unauthorized) while that is still the current token,
  // it is a refusal (refused); ended for an older one, the client simply
  // connects again with the current token.
  down(t, why, code) {
    if (t.retired || t !== this.transport) return;
    const err = code === CODE.unauthorized ? new AuthError(why) : new TransportError(why);
    this.lose(t, err);
    if (isAuthError(err) && t.opts.token === this.token) this.refused(err);
    else this.reconnectTimer.scheduleTimeout();
  }

  // lose lets go of t, the transport in use, which ended with err.
  lose(t, err) {
    this.transport = null;
    this.probeTimer.cancel();
    this.setState(STATE.offline);
    this.failPendingRequests(err, t);
    this.trigger('down', err.message);
  }

  failPendingRequests(err, t) {
    this.pendingReplies.forEach((p, ref) => {
      if (t && p.transport !== t) return;
      this.pendingReplies.delete(ref);
      clearTimeout(p.timer);
      p.reject(err);
    });
  }

  /**
   * request sends {sync, Method, Model, Props, Ref} on the current
   * transport and resolves with the reply's Msg as plain JavaScript, or
   * rejects with a BertsyncError (refused) or a TransportError (no
   * connection, or no reply within requestTimeout).
   */
  request(method, model, props) {
    return this.call(method, model, props);
  }

  // call is request with onReply: when given, it is called with the Msg
  // as the reply is read, before any later message is (a resubscribe's
  // replayed pushes come right after it), and its result is what the
  // promise resolves with.
  call(method, model, props, onReply) {
    if (this.switchGate) return this.switchGate.then(() => this.call(method, model, props, onReply));
    const t = this.transport;
    if (!t || this.state !== STATE.online) return Promise.reject(new TransportError('offline'));
    const ref = ++this.ref;
    let bytes;
    try {
      bytes = encodeRequest(method, model, props, ref);
    } catch (e) {
      return Promise.reject(new BertsyncError(CODE.badRequest, e.message));
    }
    const entry = { transport: t, onReply };
    entry.promise = new Promise((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
      entry.timer = setTimeout(() => {
        this.pendingReplies.delete(ref);
        reject(new TransportError('no reply to ' + method + ' ' + model + ' within ' + this.opts.requestTimeout + ' ms'));
      }, this.opts.requestTimeout);
    });
    this.pendingReplies.set(ref, entry);
    t.send(bytes).catch((e) => {
      if (this.pendingReplies.get(ref) !== entry) return;
      this.pendingReplies.delete(ref);
      clearTimeout(entry.timer);
      entry.reject(e);
    });
    return entry.promise;
  }

  receive(term) {
    const msg = parseMessage(term);
    if (msg.kind === 'reply') {
      const entry = msg.ref === undefined ? undefined : this.pendingReplies.get(msg.ref);
      if (!entry) {
        if (msg.error) this.trigger('error', msg.error);
        return;
      }
      this.pendingReplies.delete(msg.ref);
      clearTimeout(entry.timer);
      if (msg.error) {
        entry.reject(msg.error);
        return;
      }
      if (!entry.onReply) {
        entry.resolve(msg.value);
        return;
      }
      try {
        entry.resolve(entry.onReply(msg.value));
      } catch (e) {
        entry.reject(e);
      }
      return;
    }
    if (msg.kind === 'push') {
      this.push(msg.event, msg.model, msg.props, msg.seq);
      return;
    }
    this.trigger('error', new BertsyncError(CODE.badRequest, 'unexpected message from the server'));
  }

  // push applies a push, by its Seq against the stream's position: one
  // seen already (two transports overlapping in a switch, a replay of
  // what another transport brought) is dropped, one beyond the next
  // means pushes were missed, and the subscribers reload. Subscribers
  // and the cache see the document with the tab's queued writes of it
  // laid over (streams.js overlayPending); the push event has it as the
  // server sent it.
  push(event, model, props, seq) {
    const v = this.subscriptions.accept(model, seq);
    if (v === VERDICT.duplicate || v === VERDICT.held) return;
    if (Array.isArray(props) && props.length === 0) props = {};
    let shown = props;
    if (isAttributes(props)) {
      shown = overlayPending(event, props, this.queue.pendingFor(model, props.id));
      if (shown && (event === PUSH.created || event === PUSH.updated)) this.cache.put(model, shown);
      if (event === PUSH.deleted) this.cache.delete(model, props.id);
    }
    if (shown !== null) {
      for (const s of this.subscriptions.subscribers(model)) s.push(event, shown, seq);
    }
    if (v === VERDICT.gap) this.reload(model);
    this.trigger('push', event, model, props, seq);
    if (event === PUSH.broadcast) this.trigger('broadcast', model, props, seq);
  }

  /** whenOnline resolves true once the client is online, or false after ms. */
  whenOnline(ms) {
    if (this.state === STATE.online) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer = null;
      const onState = (s) => {
        if (s === STATE.online) done(true);
      };
      const done = (v) => {
        this.off('state', onState);
        clearTimeout(timer);
        resolve(v);
      };
      timer = setTimeout(() => done(false), ms);
      this.on('state', onState);
    });
  }

  cacheRead(model, id) {
    if (id === undefined) {
      const list = this.cache.list(model);
      if (!list) return Promise.reject(new BertsyncError(CODE.unavailable, 'offline, and ' + model + ' was never read'));
      return Promise.resolve(list);
    }
    const found = this.cache.get(model, id);
    if (!found) return Promise.reject(new BertsyncError(CODE.unavailable, 'offline, and ' + model + ' ' + id + ' is not cached'));
    return Promise.resolve(found);
  }

  /**
   * read returns a document's attributes (id given) or the collection's
   * list; from the cache when offline. Online, it goes after the writes
   * already queued, so a tab reads its own writes.
   */
  async read(model, id) {
    if (this.state === STATE.connecting) await this.whenOnline(this.opts.readWait);
    if (this.state !== STATE.online) return this.cacheRead(model, id);
    let res;
    try {
      await this.drained();
      res = await this.request(METHOD.read, model, id === undefined ? [] : { id });
    } catch (e) {
      if (e.transient) return this.cacheRead(model, id);
      throw e;
    }
    if (id === undefined) {
      if (Array.isArray(res)) this.cache.save(model, res);
    } else {
      this.cache.put(model, res);
    }
    return res;
  }

  /**
   * write queues a create, update, patch, delete or broadcast and resolves
   * with the server's reply, or at once with the local attributes when
   * offline (the write is then sent, in order, on reconnect). late, when
   * given, hears how a write settled offline landed: landed(reply) or
   * refused(error).
   */
  write(method, model, props, late) {
    const item = { qid: newId(), method, model, props, at: Date.now() };
    this.queue.push(item);
    // Apply it locally now, so that reads made offline see it.
    if (method === METHOD.delete) this.cache.delete(model, props.id);
    else if (method !== METHOD.broadcast) this.cache.put(model, props);
    if (late) this.late.set(item.qid, late);
    const p = new Promise((resolve, reject) => this.waiters.set(item.qid, { resolve, reject }));
    this.trigger('pending', this.pending);
    if (this.state === STATE.online) {
      this.pump();
    } else if (this.state === STATE.connecting) {
      // Right after connect(): give the first connection a moment before
      // answering from local state.
      this.whenOnline(this.opts.readWait).then((on) => {
        if (!on) this.settleOffline(item);
      });
    } else {
      this.settleOffline(item);
    }
    return p;
  }

  settleOffline(item) {
    const w = this.waiters.get(item.qid);
    if (!w) return;
    this.waiters.delete(item.qid);
    w.resolve(item.method === METHOD.delete || item.method === METHOD.broadcast ? {} : Object.assign({}, item.props));
  }

  // pump sends the queue in order, one write at a time, each removed only
  // when its reply came: a write whose transport dies unanswered is sent
  // again on reconnect.
  pump() {
    if (this.pumping || this.state !== STATE.online || !this.queue.ready) return;
    const item = this.queue.first();
    if (!item) {
      this.fireDrained();
      return;
    }
    this.pumping = true;
    const wasSent = item.sent;
    item.sent = true;
    this.queue.save();
    // A broadcast's reply is its Seq, which the server does not push to
    // its sender: counted as it is read, so that the push after it is no gap.
    const onReply = item.method === METHOD.broadcast ? (res) => {
      this.subscriptions.own(item.model, res);
      return res;
    } : undefined;
    this.call(item.method, item.model, item.props, onReply).then(
      (res) => this.finish(item, null, res),
      (err) => {
        // The connection died or timed out, or the server is busy or
        // stopping: the write stays first in the queue and goes again, on
        // the next connection or after a pause.
        if (isRetryable(err)) {
          this.pumping = false;
          for (const q of this.queue.items) this.settleOffline(q);
          if (this.started) this.pumpTimer.scheduleTimeout();
          return;
        }
        // A create sent before the connection died may have landed: its
        // replay finds the id taken. That is the write landing once; so
        // is a replayed delete that finds nothing.
        if (wasSent && item.method === METHOD.create && err.code === CODE.conflict) this.finish(item, null, item.props);
        else if (wasSent && item.method === METHOD.delete && err.code === CODE.notFound) this.finish(item, null, {});
        else this.finish(item, err);
      }
    );
  }

  finish(item, err, res) {
    this.pumping = false;
    this.queue.remove(item);
    const w = this.waiters.get(item.qid);
    this.waiters.delete(item.qid);
    const late = this.late.get(item.qid);
    this.late.delete(item.qid);
    if (err) {
      if (item.method === METHOD.create) this.cache.delete(item.model, item.props.id);
      if (w) w.reject(err);
      else if (late && late.refused) late.refused(err);
      this.trigger('error', err, item);
    } else {
      if (isAttributes(res) && res.id !== undefined && item.method !== METHOD.delete) this.cache.put(item.model, res);
      if (w) w.resolve(res);
      else if (late && late.landed) late.landed(res);
      this.trigger('sent', item, res);
    }
    this.trigger('pending', this.pending);
    this.pump();
  }

  /** drained resolves once the queue is empty. */
  drained() {
    if (!this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  fireDrained() {
    const ws = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of ws) f();
    this.trigger('drained');
  }

  // sendSubscribe sends a subscribe and resolves with the stream's
  // position after its reply, {seq, epoch, recovered}; the reply is
  // applied as it is read, before the pushes that follow it.
  sendSubscribe(model, props) {
    return this.call(METHOD.subscribe, model, props, (msg) => this.subscriptions.subscribed(model, msg));
  }

  /**
   * subscribe adds a subscriber ({push(event, props, seq), reload()},
   * optionally refused(error)) to model's pushes, telling the server for
   * the first. Online, it resolves once the server has answered (with
   * the stream's position, {seq, epoch, recovered}), and rejects with the
   * server's error when it refuses: the subscriber is then removed.
   * Offline, it resolves at once (with undefined): the subscription is
   * renewed on every connection, and a refusal then is reported on the
   * error event and to the subscriber's refused (see refusal).
   */
  subscribe(model, subscriber) {
    if (!this.subscriptions.add(model, subscriber) || this.state !== STATE.online) return Promise.resolve();
    return this.sendSubscribe(model, []).catch((e) => {
      if (e.transient) return undefined;
      this.subscriptions.remove(model, subscriber);
      throw e;
    });
  }

  /** unsubscribe removes a subscriber, telling the server after the last. */
  unsubscribe(model, subscriber) {
    if (!this.subscriptions.remove(model, subscriber) || this.state !== STATE.online) return Promise.resolve();
    return this.request(METHOD.unsubscribe, model, []).catch((e) => {
      if (!e.transient) throw e;
    });
  }

  /**
   * upload PUTs a file to apiRoot/model/id (see upload.js) with the
   * current token, and resolves with the server's answer. Refused with a
   * 401, it renews the token (when there is a renewToken) and tries once
   * more; a failed renewal rejects with the 401's error.
   */
  async upload(model, id, file, fileName) {
    try {
      return await upload(this.opts.apiRoot, model, id, file, fileName, this.token);
    } catch (e) {
      if (e.status !== HTTP_UNAUTHORIZED || typeof this.opts.renewToken !== 'function') throw e;
      try {
        await this.renew(RENEW.refused);
      } catch {
        throw e;
      }
    }
    return upload(this.opts.apiRoot, model, id, file, fileName, this.token);
  }
}
