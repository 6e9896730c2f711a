// bertsync serving TLS itself (`serve --tls-cert C --tls-key K`, started by
// tests/browser_test.go with a self-signed certificate made for the run,
// which these pages are told to accept): Chromium speaks HTTP/2 to it, the
// EventSource stream and its POSTs run over HTTP/2, a WebSocket over WSS,
// and a change made on either reaches the other.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, until, uniqueModel } from './lib.mjs';

const TLS_SERVER = process.env.BERTSYNC_TLS_URL || '';
if (!TLS_SERVER.startsWith('https://')) {
  throw new Error('BERTSYNC_TLS_URL is not set: run through `go test ./tests/ -run Browser`, which starts the TLS server');
}

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

// watchNetwork records, through the DevTools protocol, the protocol of
// every response to the Bullet endpoint and the URL of every WebSocket.
async function watchNetwork(context, page, seen) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.responseReceived', (e) => {
    if (new URL(e.response.url).pathname === '/bullet') seen.responses.push({ type: e.type, protocol: e.response.protocol });
  });
  cdp.on('Network.webSocketCreated', (e) => seen.sockets.push(e.url));
}

test('EventSource over HTTP/2 and a WebSocket over WSS, pushing to each other', async () => {
  const model = uniqueModel('tls');
  const esSeen = { responses: [], sockets: [] };
  const wsSeen = { responses: [], sockets: [] };
  const esContext = await browser.newContext({ ignoreHTTPSErrors: true });
  const wsContext = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    const es = await openPage(browser, {
      origin: TLS_SERVER, context: esContext, options: { transports: ['eventsource'] },
      setup: (page) => watchNetwork(esContext, page, esSeen)
    });
    const ws = await openPage(browser, {
      origin: TLS_SERVER, context: wsContext, options: { transports: ['websocket'] },
      setup: (page) => watchNetwork(wsContext, page, wsSeen)
    });
    assert.equal(await es.evaluate(() => location.protocol), 'https:');
    assert.equal(await es.evaluate(() => Bertsync.transport), 'eventsource');
    assert.equal(await ws.evaluate(() => Bertsync.transport), 'websocket');
    for (const p of [es, ws]) {
      await p.evaluate(async (name) => { window.c = T.collection(name); await c.subscribe(); }, model);
    }

    // WebSocket → EventSource.
    const id = await ws.evaluate(async () => (await T.create(c, { text: 'over wss' })).id);
    assert.equal(await until(es, (id) => c.get(id) && c.get(id).get('text'), id), 'over wss');
    // EventSource (its POST) → WebSocket.
    const back = await es.evaluate(async () => (await T.create(c, { text: 'over h2' })).id);
    assert.equal(await until(ws, (id) => c.get(id) && c.get(id).get('text'), back), 'over h2');

    // The stream and the POSTs went over HTTP/2, the WebSocket over WSS.
    const streams = esSeen.responses.filter((r) => r.type === 'EventSource');
    assert.ok(streams.length > 0, `no EventSource response seen: ${JSON.stringify(esSeen.responses)}`);
    for (const r of esSeen.responses) assert.equal(r.protocol, 'h2', `a ${r.type} response over ${r.protocol}`);
    const posts = await es.evaluate(() => performance.getEntriesByType('resource')
      .filter((e) => new URL(e.name).pathname === '/bullet' && e.initiatorType !== 'other')
      .map((e) => e.nextHopProtocol));
    assert.ok(posts.length > 0, 'no POST to the Bullet endpoint in the resource timings');
    for (const p of posts) assert.equal(p, 'h2');
    assert.ok(wsSeen.sockets.length > 0 && wsSeen.sockets.every((u) => u.startsWith('wss://')), `sockets ${wsSeen.sockets}`);
    assert.equal(await es.evaluate(() => Bertsync.transport), 'eventsource', 'the transport must not have changed');
  } finally {
    await esContext.close();
    await wsContext.close();
  }
});
