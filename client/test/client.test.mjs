// The Client against a scripted server (testing/fakes.mjs): nothing before
// connect(), the transports tried in order, writes made offline replayed
// in order, reads from the cache while offline, pushes and gaps.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, STATE } from '../src/index.js';
import { CountingStorage, FakeServer, fast, next } from '../testing/fakes.mjs';

const clients = new Set();
afterEach(() => {
  for (const c of clients) c.close();
  clients.clear();
});

function client(server, names, options = {}) {
  const c = new Client({ ...fast, transports: names.map((n) => server.transport(n)), ...options });
  clients.add(c);
  return c;
}

async function online(c) {
  if (c.state !== STATE.online) await next(c, 'state', (s) => s === STATE.online);
}

test('the constructor opens nothing; connect() does, once', async () => {
  const server = new FakeServer();
  const storage = new CountingStorage();
  const c = client(server, ['a'], { storage });
  assert.equal(storage.writes + storage.removes, 0, 'the constructor stores nothing');
  const states = [];
  c.on('state', (s) => states.push(s));
  // Writes and subscriptions before connect() wait; nothing is opened.
  const written = c.write('create', 'm', { id: 'x1', v: 1 });
  assert.deepEqual(await written, { id: 'x1', v: 1 }, 'answered from local state');
  await c.subscribe('m', { push() {}, reload() {} });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(server.opened, []);
  assert.equal(c.state, STATE.offline);
  assert.equal(c.transport, null);
  assert.equal(c.pending, 1);
  assert.deepEqual(Array.from(storage.map.keys()).filter((k) => k.includes('queue:')), [], 'the queue is stored only once connect() claimed it');

  assert.equal(c.connect(), c);
  c.connect(); // a second call starts no second connection
  await online(c);
  assert.deepEqual(server.opened, ['a']);
  assert.deepEqual(states, [STATE.connecting, STATE.online]);
  await c.drained();
  assert.equal(Array.from(storage.map.keys()).filter((k) => k.includes('alive:')).length, 1, 'connect() started the heartbeat');
  // Renewed subscription first, then the queued write.
  assert.deepEqual(server.log.map(([m, model, p]) => [m, model, p.id]), [['subscribe', 'm', undefined], ['create', 'm', 'x1']]);
  assert.equal(c.pending, 0);
});

test('transports are tried in the order given; the first that opens is used', async () => {
  const server = new FakeServer();
  server.broken.add('a').add('b');
  const c = client(server, ['a', 'b', 'c']);
  c.connect();
  await online(c);
  assert.deepEqual(server.opened, ['a', 'b', 'c']);
  assert.equal(c.transport.name, 'c');
  assert.equal(await c.request('read', 'm', []).then((r) => Array.isArray(r)), true);
});

test('when none opens: offline, a retry after the backoff, then the order again from the first', async () => {
  const server = new FakeServer();
  server.up = false;
  const c = client(server, ['a', 'b'], { backoffMin: 5, backoffMax: 40 });
  c.connect();
  const [delay] = await next(c, 'retry');
  assert.equal(c.state, STATE.offline);
  assert.ok(delay >= 2 && delay <= 8, `first retry after ${delay} ms`);
  assert.deepEqual(server.opened, ['a', 'b']);
  const [second] = await next(c, 'retry');
  assert.ok(second >= 5 && second <= 15, `second retry after ${second} ms`);
  assert.deepEqual(server.opened, ['a', 'b', 'a', 'b']);
  server.up = true;
  await online(c);
  assert.equal(c.transport.name, 'a');
});

test('writes made offline answer at once and are sent in order, once each, on reconnect', async () => {
  const server = new FakeServer();
  const c = client(server, ['a']);
  c.connect();
  await online(c);
  server.up = false;
  server.drop();
  assert.equal(c.state, STATE.offline);

  const answers = await Promise.all([
    c.write('create', 'm', { id: 'b', n: 1 }),
    c.write('update', 'm', { id: 'b', n: 2 }),
    c.write('create', 'm', { id: 'c', n: 1 }),
    c.write('delete', 'm', { id: 'c' }),
    c.write('patch', 'm', { id: 'b', n: 3 })
  ]);
  assert.deepEqual(answers, [{ id: 'b', n: 1 }, { id: 'b', n: 2 }, { id: 'c', n: 1 }, {}, { id: 'b', n: 3 }]);
  assert.equal(c.pending, 5);
  // Reads while offline come from the local state the writes left.
  assert.deepEqual(await c.read('m', 'b'), { id: 'b', n: 3 });
  assert.deepEqual((await c.read('m')).map((d) => d.id), ['b']);

  server.up = true;
  const sent = [];
  c.on('sent', (item) => sent.push(item.method + ' ' + item.props.id));
  c.reconnectNow();
  await next(c, 'drained');
  assert.deepEqual(server.log.map(([m, , p]) => m + ' ' + p.id), ['create b', 'update b', 'create c', 'delete c', 'patch b']);
  assert.deepEqual(sent, ['create b', 'update b', 'create c', 'delete c', 'patch b']);
  assert.equal(c.pending, 0);
  assert.deepEqual(server.docs.get('m').get('b'), { id: 'b', n: 3 });
});

test('a write whose connection dies unanswered is sent again; a replayed create that finds its id taken counts as done', async () => {
  const server = new FakeServer();
  const c = client(server, ['a']);
  c.connect();
  await online(c);
  server.hold = true; // the create arrives, its reply never does
  const p = c.write('create', 'm', { id: 'once' });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(server.log.map(([m]) => m), ['create']);
  server.drop();
  assert.deepEqual(await p, { id: 'once' }, 'settled from local state once the connection died');
  server.hold = false;
  server.refuse = (method, model, props) => (method === 'create' && props.id === 'once' ? ['conflict', 'id taken'] : null);
  const errors = [];
  c.on('error', (e) => errors.push(e));
  await next(c, 'drained');
  assert.deepEqual(server.log.map(([m]) => m), ['create', 'create']);
  assert.equal(c.pending, 0);
  assert.deepEqual(errors, []);
});

test('a write the server refuses is dropped, reported, and tells the late listener', async () => {
  const server = new FakeServer();
  server.refuse = (method) => (method === 'update' ? ['forbidden', 'no'] : null);
  const c = client(server, ['a']);
  const refused = [];
  const p = c.write('update', 'm', { id: 'x' }, { landed() {}, refused: (e) => refused.push(e.code) });
  assert.deepEqual(await p, { id: 'x' }, 'offline before connect: answered locally');
  c.connect();
  const [err, item] = await next(c, 'error');
  assert.equal(err.code, 'forbidden');
  assert.equal(item.props.id, 'x');
  assert.deepEqual(refused, ['forbidden']);
  assert.equal(c.pending, 0);
});

test('pushes reach subscribers and the cache; a gap in Seq makes them reload', async () => {
  const server = new FakeServer();
  const c = client(server, ['a']);
  const heard = [];
  let reloads = 0;
  let caughtUp;
  const catchUp = new Promise((r) => {
    caughtUp = r;
  });
  const sub = {
    push: (event, props, seq) => heard.push([event, props.id, seq]),
    reload: () => {
      reloads++;
      caughtUp();
    }
  };
  // Subscribed before connect(): the connection renews the subscription,
  // then has the subscriber catch up once.
  await c.subscribe('m', sub);
  c.connect();
  await catchUp;
  assert.equal(reloads, 1);
  server.push('created', 'm', { id: 'p1', v: 1 }, 1);
  server.push('created', 'm', { id: 'p1', v: 1 }, 1); // the same push again, as on a switch of transports
  server.push('updated', 'm', { id: 'p1', v: 2 }, 2);
  server.push('updated', 'm', { id: 'p1', v: 4 }, 4); // 3 was missed
  await next(c, 'push', (event, model, props, seq) => seq === 4);
  assert.deepEqual(heard, [['created', 'p1', 1], ['updated', 'p1', 2], ['updated', 'p1', 4]]);
  assert.equal(reloads, 2, 'the gap made it reload');
  assert.deepEqual(c.cache.get('m', 'p1'), { id: 'p1', v: 4 });
  await c.unsubscribe('m', sub);
  assert.equal(c.subscriptions.has('m'), false);
  assert.deepEqual(server.log.map(([m]) => m), ['subscribe', 'unsubscribe']);
});

test('on a fallback it probes the first transport and moves back to it', async () => {
  const server = new FakeServer();
  server.broken.add('best');
  const c = client(server, ['best', 'fallback'], { probeInterval: 5 });
  c.connect();
  await online(c);
  assert.equal(c.transport.name, 'fallback');
  const [, ok] = await next(c, 'probe');
  assert.equal(ok, false);
  server.broken.delete('best');
  await next(c, 'transport', (name) => name === 'best');
  assert.equal(c.state, STATE.online);
  assert.deepEqual(await c.write('create', 'm', { id: 'after' }), { id: 'after' });
  assert.equal(server.log.at(-1)[0], 'create');
});

test('disconnect() stops, connect() takes up again; close() lets go of the queue', async () => {
  const server = new FakeServer();
  const c = client(server, ['a']);
  c.connect();
  await online(c);
  const t = c.transport;
  c.disconnect();
  assert.equal(c.state, STATE.offline);
  assert.equal(t.closed, true);
  assert.equal(server.live.size, 0);
  await c.write('create', 'm', { id: 'while-disconnected' });
  // Nothing is scheduled, and nothing reconnects (transports open
  // synchronously on a try).
  assert.equal(c.reconnectTimer.pending, false);
  c.reconnectNow();
  assert.deepEqual(server.opened, ['a']);
  c.connect();
  await next(c, 'drained');
  assert.deepEqual(server.opened, ['a', 'a']);
  assert.equal(server.log.at(-1)[2].id, 'while-disconnected');
  c.close();
  assert.equal(c.queue.ready, false);
});
