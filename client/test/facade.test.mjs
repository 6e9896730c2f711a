// The script build's facade (`Bertsync`): a default client made on
// demand, connected only by connect(), and nothing shared between two
// facades. And the built files: what they export, and that loading them
// starts nothing.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createBertsync } from '../src/index.js';
import * as api from '../src/index.js';
import { FakeServer, fast, next } from '../testing/fakes.mjs';

const made = [];
afterEach(() => {
  for (const b of made.splice(0)) b.client().close();
});

function facade() {
  const b = createBertsync();
  made.push(b);
  return b;
}

test('no client until one is needed, and none connected until connect()', async () => {
  const b = facade();
  assert.equal(b.state, 'offline');
  assert.equal(b.pending, 0);
  assert.equal(b.transport, null);
  b.reconnect(); // nothing to reconnect: no client is made for it
  const c = b.client();
  assert.equal(b.client(), c, 'the same default client until connect() replaces it');
  assert.equal(c.started, false);
  assert.equal(c.state, 'offline');
});

test('connect(options) makes and connects the client; its events are the facade\'s', async () => {
  const server = new FakeServer();
  const b = facade();
  const seen = [];
  b.on('all', (name) => seen.push(name));
  const c = b.connect({ ...fast, transports: [server.transport('t')] });
  assert.equal(b.client(), c);
  await next(b, 'state', (s) => s === 'online');
  assert.equal(b.state, 'online');
  assert.equal(b.transport, 't');
  assert.ok(seen.includes('state') && seen.includes('transport'), seen.join());
  // connect again: a new client, the old one closed and no longer heard.
  const c2 = b.connect({ ...fast, transports: [server.transport('u')] });
  assert.notEqual(c2, c);
  assert.equal(c.state, 'offline');
  await next(b, 'transport', (name) => name === 'u');
  seen.length = 0;
  c.trigger('state', 'from the old client');
  assert.deepEqual(seen, []);
});

test('what the default client held before connect(options) goes on in the client it makes', async () => {
  const server = new FakeServer();
  const b = facade();
  const sub = { push() {}, reload() {} };
  // A page that writes and subscribes before it connects (its Backbone
  // calls made the default client).
  assert.deepEqual(await b.client().write('create', 'm', { id: 'early' }), { id: 'early' });
  await b.client().subscribe('m', sub);
  const c = b.connect({ ...fast, transports: [server.transport('t')] });
  assert.equal(c.pending, 1);
  assert.ok(c.subscriptions.subscribers('m').includes(sub));
  await next(b, 'drained');
  assert.deepEqual(server.log.map(([m, , p]) => m + ' ' + (p.id || '')), ['subscribe ', 'create early']);
});

test('two facades share nothing', () => {
  const one = facade();
  const two = facade();
  assert.notEqual(one.client(), two.client());
  assert.notEqual(one.sync, two.sync);
  one.on('x', () => assert.fail('heard by the wrong facade'));
  two.trigger('x');
});

test('the built files: the script sets up a facade and starts nothing; the module exports the API', async () => {
  const require = createRequire(import.meta.url);
  const script = require('../../gateway/web/bertsync.js');
  assert.equal(typeof script.connect, 'function');
  assert.equal(script.state, 'offline');
  assert.equal(script.transport, null);
  assert.deepEqual(script.toJS(script.decode(script.encode([script.atom('a'), 'b']))), ['a', 'b']);
  const mod = await import('../../gateway/web/bertsync.mjs');
  assert.deepEqual(Object.keys(mod).sort(), Object.keys(api).sort());
  assert.equal(mod.default, undefined, 'no default instance in the module');
  assert.equal(mod.VERSION, script.version);
});
