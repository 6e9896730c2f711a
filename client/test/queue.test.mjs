// The offline queue: order, what is stored when, and how a tab takes over
// the queue of a tab that closed.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { HEARTBEAT_INTERVAL, ORPHAN_AGE, OfflineQueue, SESSION_TAB_KEY, memoryStorage } from '../src/index.js';
import { CountingStorage } from '../testing/fakes.mjs';

const item = (qid) => ({ qid, method: 'create', model: 'm', props: { id: qid } });

// FakeLocks is a LockManager: request(name, {ifAvailable}, fn) and query().
class FakeLocks {
  constructor() {
    this.held = new Map();
  }

  async request(name, options, fn) {
    if (typeof options === 'function') {
      fn = options;
      options = {};
    }
    if (this.held.has(name)) {
      if (options.ifAvailable) return fn(null);
      await this.held.get(name).released;
    }
    let release;
    const released = new Promise((r) => {
      release = r;
    });
    this.held.set(name, { released });
    try {
      return await fn({ name });
    } finally {
      this.held.delete(name);
      release();
    }
  }

  async query() {
    return { held: Array.from(this.held.keys()).map((name) => ({ name })) };
  }
}

// open queues, closed after each test whatever its outcome (a heartbeat
// left running would keep node alive).
const opened = new Set();
afterEach(() => {
  for (const q of opened) q.close();
  opened.clear();
});

function queue(storage, { session = memoryStorage(), locks = null, now = Date.now } = {}) {
  const q = new OfflineQueue({ storage, prefix: 'bs:', session, locks, now });
  opened.add(q);
  return q;
}

test('items stay in the order pushed; removing one keeps the others in order', async () => {
  const storage = new CountingStorage();
  const q = queue(storage);
  await q.open();
  for (const id of ['a', 'b', 'c', 'd']) q.push(item(id));
  assert.deepEqual(q.items.map((i) => i.qid), ['a', 'b', 'c', 'd']);
  assert.equal(q.first().qid, 'a');
  assert.equal(q.remove(q.items[2]), true);
  assert.equal(q.remove(item('zz')), false);
  assert.deepEqual(q.items.map((i) => i.qid), ['a', 'b', 'd']);
  // What is stored is the same queue, in the same order.
  assert.deepEqual(JSON.parse(storage.getItem('bs:queue:' + q.tab)).map((i) => i.qid), ['a', 'b', 'd']);
  q.close();
});

test('nothing is stored before open(); items pushed meanwhile are stored then, and survive a reload', async () => {
  const storage = new CountingStorage();
  const session = memoryStorage();
  const q = queue(storage, { session });
  q.push(item('early'));
  assert.equal(storage.writes, 0);
  assert.equal(q.length, 1);
  assert.deepEqual(q.unstored().map((i) => i.qid), ['early']);
  await q.open();
  assert.deepEqual(q.unstored(), []);
  q.push(item('late'));
  const tab = q.tab;
  assert.equal(session.getItem(SESSION_TAB_KEY), tab);
  q.close();
  // The same tab reloaded: same session, same id, same queue.
  const again = queue(storage, { session });
  assert.equal(again.tab, tab);
  assert.deepEqual(again.items.map((i) => i.qid), ['early', 'late']);
  // An empty queue leaves no entry behind.
  await again.open();
  again.remove(again.items[0]);
  again.remove(again.items[0]);
  assert.equal(storage.getItem('bs:queue:' + tab), null);
  again.close();
});

test('without Web Locks: a queue whose heartbeat is older than ORPHAN_AGE is adopted, after our own items', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const storage = new CountingStorage();
  let now = 1_000_000;
  const clock = () => now;
  const gone = queue(storage, { now: clock });
  await gone.open();
  gone.push(item('g1'));
  gone.push(item('g2'));
  gone.close(); // the tab closes: its queue and heartbeat stay stored
  const alive = queue(storage, { now: clock });
  await alive.open();
  alive.push(item('mine'));
  const adopted = [];
  alive.on('adopted', (n) => adopted.push(n));

  // Still within ORPHAN_AGE: the other tab may only be throttled.
  now += ORPHAN_AGE - 1;
  t.mock.timers.tick(HEARTBEAT_INTERVAL);
  assert.deepEqual(adopted, []);
  now += 2;
  t.mock.timers.tick(HEARTBEAT_INTERVAL);
  assert.deepEqual(adopted, [2]);
  assert.deepEqual(alive.items.map((i) => i.qid), ['mine', 'g1', 'g2']);
  assert.equal(storage.getItem('bs:queue:' + gone.tab), null);
  assert.equal(storage.getItem('bs:alive:' + gone.tab), null);
  // A live tab keeps its queue: its heartbeat is fresh.
  const other = queue(storage, { now: clock });
  await other.open();
  other.push(item('o1'));
  t.mock.timers.tick(HEARTBEAT_INTERVAL);
  assert.deepEqual(adopted, [2]);
  other.close();
  alive.close();
});

test('with Web Locks: the queue of a tab whose lock is free is adopted at once; a live tab\'s is not', async () => {
  const storage = new CountingStorage();
  const locks = new FakeLocks();
  const live = queue(storage, { locks });
  await live.open();
  live.push(item('live1'));
  const closed = queue(storage, { locks });
  await closed.open();
  closed.push(item('c1'));
  closed.push(item('c2'));
  closed.close(); // frees its lock
  await Promise.resolve();
  const next = queue(storage, { locks });
  const adopted = [];
  next.on('adopted', (n) => adopted.push(n));
  await next.open();
  assert.deepEqual(adopted, [2]);
  assert.deepEqual(next.items.map((i) => i.qid), ['c1', 'c2']);
  assert.deepEqual(live.items.map((i) => i.qid), ['live1']);
  assert.ok(storage.getItem('bs:queue:' + live.tab), 'the live tab keeps its queue');
  live.close();
  next.close();
});

test('with Web Locks: a duplicated tab (same id, lock taken) starts a queue of its own', async () => {
  const storage = new CountingStorage();
  const locks = new FakeLocks();
  const session = memoryStorage();
  const first = queue(storage, { locks, session });
  await first.open();
  first.push(item('f1'));
  // The duplicate copies sessionStorage, so it starts with the same id and
  // loads the first tab's queue.
  const copy = memoryStorage();
  copy.setItem(SESSION_TAB_KEY, session.getItem(SESSION_TAB_KEY));
  const dup = queue(storage, { locks, session: copy });
  assert.equal(dup.tab, first.tab);
  assert.equal(dup.length, 1);
  dup.push(item('d1'));
  await dup.open();
  assert.notEqual(dup.tab, first.tab);
  assert.equal(copy.getItem(SESSION_TAB_KEY), dup.tab);
  assert.deepEqual(dup.items.map((i) => i.qid), ['d1'], 'it leaves the first tab\'s items to it');
  assert.deepEqual(first.items.map((i) => i.qid), ['f1']);
  assert.deepEqual(JSON.parse(storage.getItem('bs:queue:' + first.tab)).map((i) => i.qid), ['f1']);
  first.close();
  dup.close();
});

test('a storage that refuses the queue is an error event, not an exception', async () => {
  const storage = new CountingStorage();
  const q = queue(storage);
  await q.open();
  const errors = [];
  q.on('error', (e) => errors.push(e));
  storage.failOn = (k) => k.startsWith('bs:queue:');
  q.push(item('a'));
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'too_large');
  assert.equal(q.length, 1, 'the item stays queued in memory');
  q.close();
});
