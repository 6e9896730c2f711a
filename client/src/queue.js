// queue.js is the offline queue: every write a tab makes waits here, in
// order, until the server has answered it, kept in the storage so that a
// reload or a crash loses none.
//
// One queue per tab: two tabs replaying one shared queue would send every
// write twice. A tab's id lives in sessionStorage (a reload keeps it), and
// the tab owns its queue through a Web Lock named after the id, which the
// browser frees when the tab goes: that is how another tab tells that a
// queue was left behind, and adopts it. A duplicated tab inherits the id,
// finds the lock taken, and starts a queue of its own. Where the browser
// has no Web Locks, a queue is orphaned once its tab's heartbeat has been
// silent for ORPHAN_AGE.
//
// The queue writes nothing before it owns the tab's queue (open()): items
// pushed before are kept in memory and stored once it does.

import { HEARTBEAT_INTERVAL, KEY, METHOD, ORPHAN_AGE, SESSION_TAB_KEY, CODE } from './constants.js';
import { BertsyncError } from './errors.js';
import { Emitter } from './events.js';
import { newId } from './ids.js';
import { keysWithPrefix } from './storage.js';

function defaultSession() {
  try {
    return globalThis.sessionStorage || null;
  } catch {
    return null; // a sandboxed frame may throw on access
  }
}

function defaultLocks() {
  const locks = globalThis.navigator && globalThis.navigator.locks;
  return locks && typeof locks.request === 'function' ? locks : null;
}

/**
 * OfflineQueue holds a tab's queued writes, oldest first. It triggers
 * "adopted" (number of writes) when it takes over a closed tab's queue and
 * "error" when the storage refuses it.
 *
 * Options: storage and prefix (where), and for tests session (a
 * sessionStorage; null: none), locks (a LockManager; null: none) and now
 * (a clock).
 */
export class OfflineQueue extends Emitter {
  constructor({ storage, prefix, session = defaultSession(), locks = defaultLocks(), now = Date.now }) {
    super();
    this.storage = storage;
    this.prefix = prefix;
    this.session = session;
    this.locks = locks;
    this.now = now;
    this.ready = false; // owns the tab's queue: may store and send
    this.opening = null;
    this.heartbeat = null;
    this.releaseTab = null;
    this.tab = this.tabId();
    this.items = this.load(this.tab);
    // What the tab's stored queue held: a duplicated tab leaves it to the
    // tab it was copied from (see claim).
    this.loaded = new Set(this.items.map((q) => q.qid));
  }

  get length() {
    return this.items.length;
  }

  key(s) {
    return this.prefix + s;
  }

  // tabId returns this tab's id from sessionStorage, made on first use.
  tabId() {
    let id = null;
    try {
      id = this.session && this.session.getItem(SESSION_TAB_KEY);
    } catch {
      // No sessionStorage: an id for this page only.
    }
    if (!id) {
      id = newId();
      this.rememberTab(id);
    }
    return id;
  }

  rememberTab(id) {
    try {
      if (this.session) this.session.setItem(SESSION_TAB_KEY, id);
    } catch {
      // Memory only: a reload starts a new queue, the old one is adopted.
    }
  }

  load(tab) {
    try {
      const items = JSON.parse(this.storage.getItem(this.key(KEY.queue + tab)) || '[]');
      return Array.isArray(items) ? items : [];
    } catch {
      return [];
    }
  }

  /** unstored lists the items the storage does not hold: those pushed before the queue was ready. */
  unstored() {
    return this.ready ? [] : this.items.filter((q) => !this.loaded.has(q.qid));
  }

  /** first returns the oldest item, or undefined. */
  first() {
    return this.items[0];
  }

  /**
   * pendingFor lists the queued writes (broadcasts aside) of the document
   * id of model, oldest first: what the server has not answered yet.
   */
  pendingFor(model, id) {
    if (id === undefined || id === null) return [];
    const key = String(id);
    return this.items.filter((q) => q.model === model && q.method !== METHOD.broadcast && q.props && String(q.props.id) === key);
  }

  /** push adds an item at the end and stores the queue. */
  push(item) {
    this.items.push(item);
    this.save();
  }

  /** remove takes item out and stores the queue; it tells whether item was there. */
  remove(item) {
    const i = this.items.indexOf(item);
    if (i < 0) return false;
    this.items.splice(i, 1);
    this.save();
    return true;
  }

  /** save stores the queue (once it owns the tab's). */
  save() {
    if (!this.ready) return;
    const key = this.key(KEY.queue + this.tab);
    try {
      if (this.items.length) this.storage.setItem(key, JSON.stringify(this.items));
      else this.storage.removeItem(key);
    } catch (e) {
      this.trigger('error', new BertsyncError(CODE.tooLarge, 'offline queue does not fit in the storage: ' + e.message));
    }
  }

  beat() {
    try {
      this.storage.setItem(this.key(KEY.alive + this.tab), String(this.now()));
    } catch {
      // A full storage: other tabs may adopt this queue early, after ORPHAN_AGE.
    }
  }

  /**
   * open claims the tab's queue, stores what was pushed meanwhile, starts
   * the heartbeat and adopts orphaned queues. It returns a Promise that
   * resolves once the queue is ready; calling it again returns the same.
   */
  open() {
    if (this.opening) return this.opening;
    this.opening = this.claim().then(() => {
      if (!this.opening) return undefined; // closed meanwhile
      this.ready = true;
      this.save();
      this.beat();
      this.heartbeat = setInterval(() => {
        this.beat();
        this.adoptOrphans();
      }, HEARTBEAT_INTERVAL);
      return this.adoptOrphans();
    });
    return this.opening;
  }

  /** close stops the heartbeat and lets go of the tab's queue, which stays stored. */
  close() {
    this.opening = null;
    this.ready = false;
    clearInterval(this.heartbeat);
    this.heartbeat = null;
    if (this.releaseTab) this.releaseTab();
    this.releaseTab = null;
  }

  // claim takes the Web Lock named after the tab's id for as long as the
  // queue is open. When another live tab holds it (a duplicated tab), this
  // one takes a new id and leaves that tab's items to it.
  claim() {
    const locks = this.locks;
    if (!locks) return Promise.resolve();
    const loaded = this.loaded;
    return new Promise((resolve) => {
      const attempt = () => {
        locks
          .request(this.key(KEY.tabLock + this.tab), { ifAvailable: true }, (lock) => {
            if (!lock) {
              this.tab = newId();
              this.rememberTab(this.tab);
              this.items = this.items.filter((q) => !loaded.has(q.qid));
              attempt();
              return undefined;
            }
            resolve();
            return new Promise((release) => {
              this.releaseTab = release;
            });
          })
          .catch(() => resolve());
      };
      attempt();
    });
  }

  otherTabs() {
    const prefix = this.key(KEY.queue);
    const own = prefix + this.tab;
    return keysWithPrefix(this.storage, prefix)
      .filter((k) => k !== own)
      .map((k) => k.slice(prefix.length));
  }

  // take appends the queues of tabs to this one, after its own items.
  take(tabs) {
    let n = 0;
    for (const tab of tabs) {
      const items = this.load(tab);
      try {
        this.storage.removeItem(this.key(KEY.queue + tab));
        this.storage.removeItem(this.key(KEY.alive + tab));
      } catch {
        continue; // cannot take it: leave it for another try
      }
      this.items = this.items.concat(items);
      n += items.length;
    }
    if (!n) return;
    this.save();
    this.trigger('adopted', n);
  }

  /**
   * adoptOrphans takes over the queues of tabs that closed before their
   * writes were sent, so that no write is lost when a tab closes offline.
   */
  adoptOrphans() {
    if (!this.ready || !this.otherTabs().length) return Promise.resolve();
    const locks = this.locks;
    if (!locks) {
      const now = this.now();
      this.take(this.otherTabs().filter((t) => now - (Number(this.storage.getItem(this.key(KEY.alive + t))) || 0) > ORPHAN_AGE));
      return Promise.resolve();
    }
    // One tab adopts at a time, so that no queue is taken twice.
    return locks
      .request(this.key(KEY.adoptLock), () =>
        locks.query().then((st) => {
          if (!this.ready) return;
          const held = new Set((st.held || []).map((l) => l.name));
          this.take(this.otherTabs().filter((t) => !held.has(this.key(KEY.tabLock + t))));
        })
      )
      .catch((e) => this.trigger('error', e));
  }
}
