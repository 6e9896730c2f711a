// Each transport forced in turn: WebSocket (binary and BERT-JS text
// frames), EventSource + POST, long-poll + POST. On each, text holding
// every byte value (NUL, CR, LF, 0x80-0xFF) and characters beyond must
// arrive byte-exact both ways: in replies and in pushes. Then the client
// falls back when WebSocket is gone and returns to it when it is back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, until, uniqueModel, allBytes } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const cases = [
  { name: 'WebSocket, binary frames', options: { transports: ['websocket'] }, want: 'websocket' },
  { name: 'WebSocket, text frames (BERT-JS style)', options: { transports: ['websocket'], frames: 'text' }, want: 'websocket' },
  { name: 'EventSource + POST', options: { transports: ['eventsource'] }, want: 'eventsource' },
  { name: 'EventSource + POST, text bodies', options: { transports: ['eventsource'], frames: 'text' }, want: 'eventsource' },
  { name: 'long-poll + POST', options: { transports: ['longpoll'] }, want: 'longpoll' },
  { name: 'long-poll + POST, text bodies (BERT-JS style)', options: { transports: ['longpoll'], frames: 'text' }, want: 'longpoll' }
];

for (const tc of cases) {
  test(`${tc.name}: every byte arrives exact, in replies and pushes`, async () => {
    const model = uniqueModel('bytes');
    const payload = allBytes();
    const forced = await openPage(browser, { options: tc.options });
    const other = await openPage(browser); // WebSocket, the default
    assert.equal(await forced.evaluate(() => Bertsync.transport), tc.want);
    await forced.evaluate(async (name) => { window.c = T.collection(name); await c.subscribe(); }, model);
    await other.evaluate(async (name) => { window.c = T.collection(name); await c.subscribe(); }, model);

    // Client → server → client on the forced transport: the reply.
    const echoed = await forced.evaluate(async (s) => {
      const m = await T.create(c, { text: s, key: s.slice(0, 40) });
      const fresh = T.model(c.name, { id: m.id });
      const read = await fresh.fetch();
      return { id: m.id, created: m.get('text'), read: read.text };
    }, payload);
    assert.equal(echoed.created, payload);
    assert.equal(echoed.read, payload);

    // The other client (WebSocket) got the push with the same text, and
    // reads it back exact.
    const seen = await until(other, (id) => c.get(id) && c.get(id).get('text'), echoed.id);
    assert.equal(seen, payload);

    // Server → client on the forced transport: a push of a change the
    // other client made.
    const changed = Array.from(payload).reverse().join(''); // by code point: no lone surrogates
    await other.evaluate(async ({ id, s }) => { await c.get(id).save({ text: s }); }, { id: echoed.id, s: changed });
    const pushed = await until(forced, ({ id, s }) => c.get(id).get('text') === s && c.get(id).get('text'), { id: echoed.id, s: changed });
    assert.equal(pushed, changed);
    // And a broadcast carrying raw bytes.
    await forced.evaluate(() => { window.heard = []; c.on('broadcast', (p) => heard.push(p)); });
    await other.evaluate(async ({ id, s }) => { await c.get(id).broadcast({ id, text: s }); }, { id: echoed.id, s: payload });
    const heard = await until(forced, () => window.heard.length && window.heard[0].text);
    assert.equal(heard, payload);

    assert.equal(await forced.evaluate(() => Bertsync.transport), tc.want, 'the transport must not have changed');
    await forced.context().close();
    await other.context().close();
  });
}

test('falls back when WebSocket fails, and returns to it when it is back', async () => {
  // WebSocket is broken by the page itself (as a proxy that refuses
  // upgrades would), then mended.
  const breakWS = `
    window.__RealWebSocket = window.WebSocket;
    window.__wsBroken = true;
    window.WebSocket = function (url, protocols) {
      if (window.__wsBroken) return new window.__RealWebSocket('ws://127.0.0.1:9/refused');
      return new window.__RealWebSocket(url, protocols);
    };
    window.WebSocket.prototype = window.__RealWebSocket.prototype;
  `;
  const model = uniqueModel('probe');
  const page = await openPage(browser, { options: { probeInterval: 400 }, initScript: breakWS });
  assert.equal(await page.evaluate(() => Bertsync.transport), 'eventsource');
  await page.evaluate(async (name) => { window.c = T.collection(name); await c.subscribe(); await T.model(name, { n: 1 }).save(); }, model);
  assert.equal(await page.evaluate(() => c.length), 1);

  await page.evaluate(() => { window.__wsBroken = false; });
  await until(page, () => Bertsync.transport === 'websocket', null, 10000);
  // Still one logical connection: requests and pushes work on the new one.
  const other = await openPage(browser);
  await other.evaluate(async (name) => { await T.model(name, { n: 2 }).save(); }, model);
  await until(page, () => c.length === 2);
  await page.evaluate(async () => { await c.at(0).save({ n: 10 }); });
  assert.equal(await page.evaluate(() => Bertsync.state), 'online');
  await page.context().close();
  await other.context().close();
});

for (const transport of ['eventsource', 'longpoll']) {
  test(`two tabs of one browser on ${transport} each get every push`, async () => {
    // Tabs share their cookies, so the session cookie alone would give
    // them one session and split its pushes between them.
    const model = uniqueModel('tabs');
    const first = await openPage(browser, { options: { transports: [transport] } });
    const second = await openPage(browser, { options: { transports: [transport] }, context: first.context() });
    for (const p of [first, second]) {
      await p.evaluate(async (name) => { window.c = T.collection(name); await c.subscribe(); }, model);
    }
    const writer = await openPage(browser);
    for (let i = 0; i < 5; i++) {
      await writer.evaluate(async ({ name, i }) => { await T.model(name, { i }).save(); }, { name: model, i });
    }
    for (const p of [first, second]) {
      assert.equal(await until(p, () => c.length === 5 && c.length), 5);
      assert.equal(await p.evaluate(() => Bertsync.transport), transport);
    }
    await first.context().close();
    await writer.context().close();
  });
}
