// The built-in transports and the upload against stand-ins for the
// browser's WebSocket, EventSource and fetch (testing/browser.mjs): where
// the token goes on each request, how each tells a refused or expired
// token, and that no message the client makes quotes the token.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AuthError, Client, DEFAULTS, EventSourceTransport, LongPollTransport, STATE, WebSocketTransport, encode
} from '../src/index.js';
import { FakeEventSource, FakeFetch, FakeWebSocket, hang, install } from '../testing/browser.mjs';
import { fast, next } from '../testing/fakes.mjs';

const URL_BASE = 'http://bertsync.test';
// A token that needs URL-encoding, and that would stand out in a message.
const TOKEN = 'eyJ.SECRET+/=&? é';

let restore = null;
const clients = new Set();
afterEach(() => {
  for (const c of clients) c.close();
  clients.clear();
  if (restore) restore();
  restore = null;
});

function client(options) {
  const c = new Client({ ...fast, url: URL_BASE + '/bullet', apiRoot: URL_BASE + '/api', ...options });
  clients.add(c);
  return c;
}

async function online(c) {
  if (c.state !== STATE.online) await next(c, 'state', (s) => s === STATE.online);
}

function opts(token) {
  return { ...DEFAULTS, url: URL_BASE + '/bullet', channel: 'ch1', token, openTimeout: 1000, pingInterval: 0 };
}

const ok = (body = '', type = 'application/octet-stream') => new Response(body, { status: 200, headers: { 'Content-Type': type } });
const noContent = () => new Response(null, { status: 204 });
const unauthorized = (reason = 'token expired') => new Response(reason, { status: 401, headers: { 'Content-Type': 'text/plain' } });

function params(url) {
  return new URL(url).searchParams;
}

test('the token rides in the WebSocket and EventSource URLs, URL-encoded', async () => {
  const fetcher = new FakeFetch(() => noContent());
  restore = install(fetcher);
  const ws = client({ token: TOKEN, transports: ['websocket'] });
  ws.connect();
  await online(ws);
  const es = client({ token: TOKEN, transports: ['eventsource'] });
  es.connect();
  await online(es);
  const [sock] = FakeWebSocket.made;
  assert.match(sock.url, /^ws:\/\/bertsync\.test\/bullet\?token=/);
  assert.ok(sock.url.includes('token=' + encodeURIComponent(TOKEN)), sock.url);
  assert.equal(params(sock.url).get('token'), TOKEN);
  const [stream] = FakeEventSource.made;
  assert.equal(params(stream.url).get('token'), TOKEN);
  assert.equal(params(stream.url).get('bertsync'), '1');
  assert.equal(params(stream.url).get('channel'), es.channel);
  // Its POSTs carry it as a header, not in the URL.
  es.write('create', 'm', { id: 'a' });
  await until(() => fetcher.requests.length === 1);
  const [post] = fetcher.requests;
  assert.equal(post.method, 'POST');
  assert.equal(post.headers.Authorization, 'Bearer ' + TOKEN);
  assert.equal(params(post.url).get('token'), null);

  // No token: nothing of it anywhere.
  const anon = client({ transports: ['websocket'] });
  anon.connect();
  await online(anon);
  assert.equal(params(FakeWebSocket.made.at(-1).url.replace(/^ws/, 'http')).has('token'), false);
});

test('long-poll: the ping and the POSTs carry Authorization: Bearer, the polls the token parameter', async () => {
  const fetcher = new FakeFetch((req) => {
    if (req.method === 'GET') return hang();
    if (req.body === 'ping') return ok('pong', 'text/plain; charset=utf-8');
    return noContent();
  });
  restore = install(fetcher);
  const c = client({ token: TOKEN, transports: ['longpoll'] });
  c.connect();
  await online(c);
  c.write('update', 'm', { id: 'x' });
  await until(() => fetcher.requests.length === 3);
  const [ping, poll, post] = fetcher.requests;
  assert.deepEqual([ping.method, ping.body], ['POST', 'ping']);
  assert.equal(ping.headers.Authorization, 'Bearer ' + TOKEN);
  assert.equal(params(ping.url).has('token'), false);
  assert.equal(poll.method, 'GET');
  assert.equal(params(poll.url).get('token'), TOKEN);
  assert.ok(poll.url.includes('token=' + encodeURIComponent(TOKEN)));
  assert.equal(poll.headers.Authorization, undefined);
  assert.equal(post.method, 'POST');
  assert.equal(post.headers.Authorization, 'Bearer ' + TOKEN);
  assert.equal(params(post.url).has('token'), false);
});

test('401 at the long-poll ping, at a poll and at a POST; 4401 on a WebSocket: each ends the transport for its token', async () => {
  let answer = () => unauthorized('token expired');
  restore = install(new FakeFetch((req) => answer(req)));

  const refusedOpen = await new LongPollTransport(opts(TOKEN)).open().then(() => null, (e) => e);
  assert.ok(refusedOpen instanceof AuthError);
  assert.equal(refusedOpen.code, 'unauthorized');
  assert.match(refusedOpen.message, /HTTP 401: token expired/);

  // Open, then the next poll is refused: the session's token expired.
  let polls = 0;
  answer = (req) => {
    if (req.method === 'GET') return polls++ === 0 ? noContent() : unauthorized();
    return ok('pong', 'text/plain');
  };
  const lp = new LongPollTransport(opts(TOKEN));
  const closed = new Promise((resolve) => {
    lp.onclose = (why, code) => resolve({ why, code });
  });
  await lp.open();
  assert.deepEqual(await closed, { why: 'long-poll: HTTP 401: token expired', code: 'unauthorized' });

  // A POST refused.
  answer = (req) => (req.method === 'GET' ? hang() : req.body === 'ping' ? ok('pong', 'text/plain') : unauthorized('bad token'));
  const lp2 = new LongPollTransport(opts(TOKEN));
  await lp2.open();
  const gone = new Promise((resolve) => {
    lp2.onclose = (why, code) => resolve(code);
  });
  const sent = await lp2.send(encode(1)).then(() => null, (e) => e);
  assert.ok(sent instanceof AuthError);
  assert.equal(await gone, 'unauthorized');
  lp2.close();

  // A WebSocket the server closes with 4401.
  const ws = new WebSocketTransport(opts(TOKEN));
  await ws.open();
  const wsClosed = new Promise((resolve) => {
    ws.onclose = (why, code) => resolve({ why, code });
  });
  FakeWebSocket.made.at(-1).end(4401, 'token expired');
  assert.deepEqual(await wsClosed, { why: 'websocket closed (4401 token expired)', code: 'unauthorized' });
  // Any other close is no refusal.
  const ws2 = new WebSocketTransport(opts(TOKEN));
  await ws2.open();
  const ws2Closed = new Promise((resolve) => {
    ws2.onclose = (why, code) => resolve(code);
  });
  FakeWebSocket.made.at(-1).end(1001, 'going away');
  assert.equal(await ws2Closed, undefined);
});

test('a WebSocket handshake refused: one POST asks whether it was the token, then the token is renewed', async () => {
  const fetcher = new FakeFetch((req) => (req.headers.Authorization === 'Bearer ' + TOKEN ? unauthorized('token expired') : ok('pong', 'text/plain')));
  restore = install(fetcher);
  FakeWebSocket.behave = (ws) => (params(ws.url.replace(/^ws/, 'http')).get('token') === 'renewed' ? ws.accept() : ws.refuse());
  const reasons = [];
  const c = client({
    token: TOKEN,
    transports: ['websocket'],
    renewToken: async (reason) => {
      reasons.push(reason);
      return 'renewed';
    }
  });
  c.connect();
  await online(c);
  assert.deepEqual(reasons, ['refused']);
  assert.equal(FakeWebSocket.made.length, 2);
  assert.equal(fetcher.requests.length, 1, 'one question, for the one failed round');
  const [check] = fetcher.requests;
  assert.deepEqual([check.method, check.body, params(check.url).has('token')], ['POST', 'ping', false]);
});

test('a WebSocket refused while the server is down: no renewal, the usual retry', async () => {
  const fetcher = new FakeFetch(() => {
    throw new TypeError('Failed to fetch');
  });
  restore = install(fetcher);
  FakeWebSocket.behave = (ws) => ws.refuse();
  let renewals = 0;
  const c = client({ token: TOKEN, transports: ['websocket'], renewToken: async () => ++renewals + '' });
  c.connect();
  const [, err] = await next(c, 'retry');
  assert.match(err.message, /websocket: closed before open \(1006\)/);
  assert.equal(renewals, 0);
  assert.equal(fetcher.requests.length, 1);
});

test('no message the client emits quotes the token, even when the browser quotes the URL', async () => {
  // Browsers put the URL in some errors: an invalid WebSocket URL, a
  // failed fetch in some engines.
  const fetcher = new FakeFetch((req) => {
    if (req.method === 'POST') return ok('pong', 'text/plain');
    throw new TypeError('NetworkError when attempting to fetch resource ' + req.url);
  });
  restore = install(fetcher);
  const saved = globalThis.WebSocket;
  globalThis.WebSocket = function (url) {
    throw new SyntaxError(`Failed to construct 'WebSocket': The URL '${url}' is invalid.`);
  };
  try {
    const said = [];
    const listen = (c) => c.on('all', (name, ...args) => said.push(name + ' ' + args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ')));
    // A poll fails with its URL (token and all) in the message.
    const lp = client({ token: TOKEN, transports: ['longpoll'] });
    listen(lp);
    lp.connect();
    const [why] = await next(lp, 'down');
    assert.match(why, /^long-poll: NetworkError when attempting to fetch resource http:\/\/bertsync\.test\/bullet\?channel=\w+&_=\d+&token=\[token\]$/);
    // A WebSocket fails to open with its URL in the message.
    const ws = client({ token: TOKEN, transports: ['websocket'] });
    listen(ws);
    ws.connect();
    const [, err] = await next(ws, 'retry');
    assert.equal(err.message, "websocket: Failed to construct 'WebSocket': The URL 'ws://bertsync.test/bullet?token=[token]' is invalid.");
    const text = said.join('\n');
    for (const form of [TOKEN, encodeURIComponent(TOKEN), 'SECRET']) assert.ok(!text.includes(form), `"${form}" in ${text}`);
  } finally {
    globalThis.WebSocket = saved;
  }
});

test('upload sends the token as Bearer; a 401 renews it and tries once more', async () => {
  const tokens = [];
  const fetcher = new FakeFetch((req) => {
    tokens.push(req.headers.Authorization);
    if (req.headers.Authorization !== 'Bearer fresh') {
      return new Response(JSON.stringify({ error: { code: 'unauthorized', message: 'token expired' } }), { status: 401 });
    }
    return new Response(JSON.stringify({ file: { name: 'a.txt', size: 1 } }), { status: 200 });
  });
  restore = install(fetcher);
  const c = client({ token: TOKEN, renewToken: async () => 'fresh' });
  const res = await c.upload('doc', 'd1', new Blob(['x']), 'a.txt');
  assert.deepEqual(res, { file: { name: 'a.txt', size: 1 } });
  assert.deepEqual(tokens, ['Bearer ' + TOKEN, 'Bearer fresh']);
  assert.equal(fetcher.requests[0].method, 'PUT');
  assert.equal(fetcher.requests[0].url, URL_BASE + '/api/doc/d1');
  assert.ok(fetcher.requests[0].body instanceof FormData);

  // Without renewToken the refusal is the caller's.
  const plain = client({ token: 'other' });
  const err = await plain.upload('doc', 'd1', new Blob(['x'])).then(() => null, (e) => e);
  assert.equal(err.code, 'unauthorized');
  assert.equal(err.status, 401);
  assert.equal(err.message, 'token expired');
  // Anonymous: no header at all.
  await client({}).upload('doc', 'd1', new Blob(['x'])).catch(() => {});
  assert.equal(fetcher.requests.at(-1).headers.Authorization, undefined);
});

// until resolves once cond() holds, checking after each turn of the event loop.
async function until(cond) {
  while (!cond()) await new Promise((r) => setImmediate(r));
}
