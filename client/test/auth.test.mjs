// The token against a scripted server (testing/fakes.mjs): every transport
// and so every request presents the current one; a refusal (401) or an
// expiry (4401) renews it and the client carries on, or stops and says so
// when it cannot renew; a JWT is renewed ahead of its exp; setToken moves
// the connection to the new identity.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { AUTH_RENEW_TRIES, Client, STATE } from '../src/index.js';
import { FakeServer, fakeJWT, fast, next } from '../testing/fakes.mjs';

const clients = new Set();
afterEach(() => {
  for (const c of clients) c.close();
  clients.clear();
});

function client(server, options = {}, names = ['a']) {
  const c = new Client({ ...fast, transports: names.map((n) => server.transport(n)), ...options });
  clients.add(c);
  return c;
}

async function online(c) {
  if (c.state !== STATE.online) await next(c, 'state', (s) => s === STATE.online);
}

// A token that would stand out in any message it leaked into.
const SECRET = 'tok-SECRET-4f1d';

test('every transport presents the current token, and the offline queue replays with it', async () => {
  const server = new FakeServer();
  const c = client(server, { token: 'first' }, ['a', 'b']);
  server.broken.add('a');
  c.connect();
  await online(c);
  assert.deepEqual(server.tokens, ['first', 'first'], 'each transport tried was made with the token');
  await c.write('create', 'm', { id: 'x' });
  assert.deepEqual(server.log.map(([m, , , tok]) => m + ' ' + tok), ['create first']);
  assert.equal(c.transport.opts.renewToken, undefined, 'a transport is not handed renewToken');

  // Offline, the token changes; what was queued meanwhile goes with the new one.
  server.up = false;
  server.drop();
  await c.write('update', 'm', { id: 'x', v: 2 });
  await c.write('patch', 'm', { id: 'x', v: 3 });
  server.up = true;
  c.setToken('second');
  await next(c, 'drained');
  assert.deepEqual(server.log.slice(1).map(([m, , , tok]) => m + ' ' + tok), ['update second', 'patch second']);
});

test('the server refuses the token at open (401): renewToken is asked, the client connects with the new one', async () => {
  const server = new FakeServer();
  server.accept = (tok) => tok === 'fresh';
  const reasons = [];
  const c = client(server, {
    token: SECRET,
    renewToken: (reason) => {
      reasons.push(reason);
      return Promise.resolve('fresh');
    }
  });
  const errors = [];
  c.on('error', (e) => errors.push(e));
  const tokenEvents = [];
  c.on('token', (...args) => tokenEvents.push(args));
  await c.subscribe('m', { push() {}, reload() {} });
  c.write('create', 'm', { id: 'queued' });
  c.connect();
  await next(c, 'drained');
  assert.deepEqual(reasons, ['refused']);
  assert.deepEqual(server.tokens, [SECRET, 'fresh']);
  assert.equal(c.token, 'fresh');
  assert.deepEqual(tokenEvents, [['renewed']], 'the event says why, and never carries the token');
  assert.deepEqual(server.log.map(([m, , , tok]) => m + ' ' + tok), ['subscribe fresh', 'create fresh']);
  assert.deepEqual(errors, []);
});

test('a WebSocket closed for an expired token (4401): renewed, resubscribed, requests go on with the new token', async () => {
  const server = new FakeServer();
  let n = 0;
  const c = client(server, { token: 't0', renewToken: async () => 't' + ++n });
  let reloads = 0;
  await c.subscribe('m', { push() {}, reload: () => reloads++ });
  c.connect();
  await online(c);
  await c.drained();
  const first = c.transport;
  server.hold = true; // a request in flight when the session ends
  const inFlight = c.write('update', 'm', { id: 'y', v: 1 });
  await new Promise((r) => setImmediate(r));
  server.hold = false;
  const down = next(c, 'down');
  server.expire('t0');
  const [why] = await down;
  assert.match(why, /4401/);
  assert.deepEqual(await inFlight, { id: 'y', v: 1 }, 'settled locally when its connection ended');
  await online(c);
  await c.drained();
  assert.notEqual(c.transport, first);
  assert.equal(c.token, 't1');
  assert.deepEqual(server.log.map(([m, , p, tok]) => m + ' ' + (p.id || '') + ' ' + tok), [
    'subscribe  t0',
    'update y t0', // held, never answered
    'subscribe  t1',
    'update y t1' // sent again on the new connection, with the new token
  ]);
  assert.equal(server.docs.get('m').get('y').v, 1);
});

test('no renewToken: a refused token is reported as unauthorized and not tried again until setToken', async () => {
  const server = new FakeServer();
  server.accept = (tok) => tok === 'good';
  const c = client(server, { token: SECRET });
  const retries = [];
  c.on('retry', (d) => retries.push(d));
  c.connect();
  const [err] = await next(c, 'error');
  assert.equal(err.code, 'unauthorized');
  assert.equal(err.name, 'AuthError');
  assert.ok(!err.message.includes(SECRET), `no token in ${err.message}`);
  assert.equal(c.state, STATE.offline);
  assert.equal(c.reconnectTimer.pending, false, 'no retry scheduled with the refused token');
  assert.deepEqual(retries, []);
  // Writes still queue, and the network coming back does not retry the refused token.
  assert.deepEqual(await c.write('create', 'm', { id: 'later' }), { id: 'later' });
  c.onOnline();
  assert.deepEqual(server.opened, ['a']);

  c.setToken('good');
  await next(c, 'drained');
  assert.deepEqual(server.tokens, [SECRET, 'good']);
  assert.deepEqual(server.log.map(([m, , p, tok]) => m + ' ' + p.id + ' ' + tok), ['create later good']);
});

test('renewToken handing out refused tokens: the client stops after AUTH_RENEW_TRIES and reports', async () => {
  const server = new FakeServer();
  server.accept = () => false;
  let calls = 0;
  const c = client(server, { token: 'bad', renewToken: async () => 'still-bad-' + ++calls });
  const retries = [];
  c.on('retry', (d) => retries.push(d));
  c.connect();
  const [err] = await next(c, 'error');
  assert.equal(err.code, 'unauthorized');
  assert.equal(calls, AUTH_RENEW_TRIES);
  assert.equal(server.opened.length, AUTH_RENEW_TRIES + 1);
  assert.equal(retries.length, AUTH_RENEW_TRIES - 1, 'each try after the first waits for the backoff');
  assert.equal(c.reconnectTimer.pending, false);
  // reconnect() (the page's "try again") starts over, renewals and all.
  server.accept = (tok) => tok === 'still-bad-' + (AUTH_RENEW_TRIES + 1);
  c.reconnectNow();
  await online(c);
  assert.equal(calls, AUTH_RENEW_TRIES + 1);
});

test('renewToken resolving null: the client goes on anonymous', async () => {
  const server = new FakeServer();
  server.accept = (tok) => tok === null;
  const c = client(server, { token: 'revoked', renewToken: async () => null });
  c.connect();
  await online(c);
  assert.equal(c.token, null);
  assert.deepEqual(server.tokens, ['revoked', null]);
});

test('renewToken failing: reported, then asked again after the backoff', async () => {
  const server = new FakeServer();
  server.accept = (tok) => tok === 'ok';
  let calls = 0;
  const c = client(server, {
    token: 'old',
    renewToken: async () => {
      if (++calls === 1) throw new Error('login service unreachable');
      return 'ok';
    }
  });
  const errors = [];
  c.on('error', (e) => errors.push(e.message));
  c.connect();
  await online(c);
  assert.deepEqual(errors, ['login service unreachable']);
  assert.equal(calls, 2);
  assert.deepEqual(server.tokens, ['old', 'old', 'ok']);
});

test('a JWT is renewed renewBefore its exp, and the connection moves to the new token', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_700_000_000_000 });
  const now = Date.now();
  const server = new FakeServer();
  const exp = (s) => fakeJWT({ sub: 'ada', exp: (Date.now() + s * 1000) / 1000 });
  const tokens = [exp(120)];
  const reasons = [];
  const c = client(server, {
    token: tokens[0],
    renewBefore: 30000,
    renewToken: async (reason) => {
      reasons.push(reason);
      tokens.push(exp(10));
      return tokens.at(-1);
    }
  });
  c.connect();
  await online(c);
  const first = c.transport;
  const settle = () => new Promise((r) => setImmediate(r));
  t.mock.timers.tick(90000 - 1);
  await settle();
  assert.deepEqual(reasons, []);
  const moved = next(c, 'transport');
  t.mock.timers.tick(1);
  await settle();
  assert.deepEqual(reasons, ['expiring']);
  await moved;
  assert.notEqual(c.transport, first);
  assert.equal(c.transport.opts.token, tokens[1]);
  assert.equal(c.state, STATE.online);
  await settle();
  assert.equal(first.closed, true, 'the old connection is closed once its replies are in');
  assert.equal(await c.request('read', 'm', []).then(() => server.log.at(-1)[3]), tokens[1]);

  // The new token lives 10 s: renewed halfway, 5 s on, not at once.
  t.mock.timers.tick(5000 - 1);
  await settle();
  assert.equal(reasons.length, 1);
  t.mock.timers.tick(1);
  await settle();
  assert.equal(reasons.length, 2);
  assert.equal(Date.now() - now, 95000);
});

test('no scheduled renewal for a token that is not a JWT, nor with renewBefore 0', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_700_000_000_000 });
  const server = new FakeServer();
  let calls = 0;
  const renewToken = async () => {
    calls++;
    return 'x';
  };
  const opaque = client(server, { token: 'opaque', renewToken });
  const noAhead = client(server, { token: fakeJWT({ exp: Date.now() / 1000 + 60 }), renewBefore: 0, renewToken });
  opaque.connect();
  noAhead.connect();
  await online(opaque);
  await online(noAhead);
  assert.equal(opaque.renewTimer, null);
  assert.equal(noAhead.renewTimer, null);
  t.mock.timers.tick(3600 * 1000);
  assert.equal(calls, 0);
});

test('setToken while online moves to a new connection with the new token', async () => {
  const server = new FakeServer();
  const c = client(server, { token: 'alice' });
  c.connect();
  await online(c);
  const first = c.transport;
  const events = [];
  c.on('token', (why) => events.push(why));
  const moved = next(c, 'transport');
  c.setToken('bob');
  // Made before the new connection is up, and sent as the new identity.
  const early = c.write('create', 'm', { id: 'right-after' });
  await moved;
  await early;
  assert.deepEqual(server.log.at(-1).slice(2), [{ id: 'right-after' }, 'bob']);
  assert.deepEqual(events, ['set']);
  assert.notEqual(c.transport, first);
  assert.equal(c.transport.opts.token, 'bob');
  assert.notEqual(c.transport.opts.channel, first.opts.channel, 'a new server session for the new identity');
  await c.write('create', 'm', { id: 'by-bob' });
  assert.equal(server.log.at(-1)[3], 'bob');
  await new Promise((r) => setImmediate(r));
  assert.equal(first.closed, true);
  assert.equal(server.live.size, 1);

  // setToken(null): anonymous from now on.
  c.setToken(null);
  await next(c, 'transport');
  assert.equal(c.transport.opts.token, null);
  assert.throws(() => c.setToken(42), TypeError);
});

test('setToken to a token the server refuses drops the connection and reports', async () => {
  const server = new FakeServer();
  server.accept = (tok) => tok === 'alice';
  const c = client(server, { token: 'alice' });
  c.connect();
  await online(c);
  const first = c.transport;
  c.setToken(SECRET);
  const [err] = await next(c, 'error');
  assert.equal(err.code, 'unauthorized');
  assert.ok(!err.message.includes(SECRET));
  assert.equal(c.state, STATE.offline);
  assert.equal(first.closed, true, 'the old identity does not go on');
});

test('a 4401 on a connection of an older token reconnects with the current one, without renewing', async () => {
  const server = new FakeServer();
  server.broken.add('a');
  let calls = 0;
  const c = client(server, { token: 'old', renewToken: async () => 'renewed-' + ++calls }, ['a', 'b']);
  c.connect();
  await online(c);
  // The switch to the new token finds no transport that opens: the old
  // connection goes on until the server ends it.
  server.up = false;
  c.setToken('new');
  await new Promise((r) => setImmediate(r));
  assert.equal(c.transport.opts.token, 'old');
  server.up = true;
  server.expire('old');
  await online(c);
  assert.equal(c.transport.opts.token, 'new');
  assert.equal(calls, 0);
});
