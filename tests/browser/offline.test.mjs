// The server goes away while a page writes: the writes wait in the page's
// offline queue (localStorage, surviving a reload), reads come from the
// last known state, and when the server is back every queued write lands
// once and in order, which a second client watches happen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, until, uniqueModel, control, SERVER, waitOnlineState } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const fast = { backoffMin: 50, backoffMax: 400, readWait: 500 };

// cable gives a page a network cable the test can pull: while
// window.__cable is false its connections to the server fail as if the
// network were down. (Chromium's offline emulation does not stop
// WebSockets to the loopback server.)
const cable = `
  window.__cable = true;
  (function () {
    var RealWS = window.WebSocket, RealES = window.EventSource, realFetch = window.fetch;
    window.WebSocket = function (url, protocols) { return new RealWS(window.__cable ? url : 'ws://127.0.0.1:9/', protocols); };
    window.WebSocket.prototype = RealWS.prototype;
    window.EventSource = function (url, init) { return new RealES(window.__cable ? url : 'http://127.0.0.1:9/', init); };
    window.EventSource.prototype = RealES.prototype;
    window.fetch = function (url, init) {
      if (!window.__cable && String(url).indexOf('/bullet') >= 0) return Promise.reject(new TypeError('network cable pulled'));
      return realFetch.call(window, url, init);
    };
  })();
`;

test('writes made while the server is down land once and in order after it is back', async () => {
  const model = uniqueModel('queued');
  const writer = await openPage(browser, { options: fast, initScript: cable });
  const watcher = await openPage(browser, { options: fast });
  for (const p of [writer, watcher]) {
    await p.evaluate(async (name) => { window.c = T.collection(name); await c.subscribe(); }, model);
  }
  const a = await writer.evaluate(async () => (await T.create(c, { name: 'A', n: 1 })).id);
  await until(watcher, (id) => !!c.get(id), a);

  await control('stop', '?signal=kill');
  await until(writer, () => Bertsync.state === 'offline');

  // Writes while offline: each answered at once from local state.
  const offline = await writer.evaluate(async (aId) => {
    const A = c.get(aId);
    const B = c.create({ name: 'B', n: 1 });
    await A.save({ n: 2 });
    await B.save({ n: 2 });
    const C = c.create({ name: 'C', n: 1 });
    await C.destroy();
    await A.save({ n: 3 }, { patch: true });
    return { b: B.id, pending: Bertsync.pending, state: Bertsync.state, ids: c.pluck('id') };
  }, a);
  assert.equal(offline.state, 'offline');
  assert.equal(offline.pending, 6);
  assert.ok(offline.b, 'a model created offline has its id at once');

  // The queue survives a reload of the tab (the page loads with the
  // server still down); reads come from the last known state.
  await writer.reload();
  await until(writer, () => Bertsync.state === 'offline');
  const afterReload = await writer.evaluate(async (name) => {
    window.c = T.collection(name);
    await c.fetch();
    return { pending: Bertsync.pending, rows: c.map((m) => [m.get('name'), m.get('n')]) };
  }, model);
  assert.equal(afterReload.pending, 6);
  assert.deepEqual(afterReload.rows.sort(), [['A', 3], ['B', 2]]);
  // One more write after the reload; it goes last.
  const d = await writer.evaluate(async () => { const D = c.create({ name: 'D', n: 1 }); await new Promise((r) => setTimeout(r, 0)); return D.id; });
  assert.equal(await writer.evaluate(() => Bertsync.pending), 7);

  // Keep the writer off the network while the server comes back, so the
  // watcher is connected and subscribed before the queue is replayed.
  await writer.evaluate(() => { window.__cable = false; });
  await control('start');
  await waitOnlineState(watcher, 20000);
  await until(watcher, (name) => Bertsync.client().subscriptions.has(name) && Bertsync.client().pendingReplies.size === 0, model);
  await new Promise((r) => setTimeout(r, 300));
  await watcher.evaluate((name) => { T.pushes[name].length = 0; }, model);
  await writer.evaluate(() => { window.__cable = true; });
  await writer.evaluate(async (name) => { await c.subscribe(); }, model);
  await until(writer, () => Bertsync.state === 'online' && Bertsync.pending === 0, null, 20000);

  // The watcher saw each queued write once, in the order it was made.
  const want = [['created', 'B'], ['updated', 'A', 2], ['updated', 'B', 2], ['created', 'C'], ['deleted'], ['updated', 'A', 3], ['created', 'D']];
  const log = await until(watcher, ({ name, n }) => T.pushes[name].length >= n && T.pushes[name], { name: model, n: want.length }, 15000)
    .catch(async (e) => { throw new Error(`${e.message}; pushes seen: ${JSON.stringify(await watcher.evaluate((name) => T.pushes[name], model))}`); });
  await new Promise((r) => setTimeout(r, 300));
  const final = await watcher.evaluate((name) => T.pushes[name], model);
  assert.equal(final.length, want.length, `pushes: ${JSON.stringify(final.map((p) => p.event))}`);
  want.forEach((w, i) => {
    assert.equal(log[i].event, w[0], `push ${i}: ${JSON.stringify(log[i])}`);
    if (w[1]) assert.equal(log[i].props.name, w[1], `push ${i}`);
    if (w[2]) assert.equal(log[i].props.n, w[2], `push ${i}`);
  });
  for (let i = 1; i < log.length; i++) assert.equal(log[i].seq, log[i - 1].seq + 1);

  // And the server holds exactly the result.
  const rows = await (await fetch(`${SERVER}/api/${model}`)).json();
  assert.deepEqual(rows.map((r) => [r.name, r.n]).sort(), [['A', 3], ['B', 2], ['D', 1]]);
  assert.deepEqual(rows.map((r) => r.id).sort(), [a, offline.b, d].sort());
  await until(watcher, () => c.length === 3);
  await writer.context().close();
  await watcher.context().close();
});

test('a server killed in the middle of a burst of writes: each lands exactly once', async () => {
  const model = uniqueModel('burst');
  const page = await openPage(browser, { options: fast });
  const n = 200;
  // Start the burst, and kill the server once some writes are answered,
  // some are in flight and most still queued. The page asks for the kill
  // itself, on the fifth answer: a poll from here could come after the
  // whole burst, which a quick server answers in a few milliseconds.
  let killed, failed;
  const kill = new Promise((resolve, reject) => {
    killed = resolve;
    failed = reject;
    setTimeout(() => reject(new Error('the fifth write was never answered')), 10000);
  });
  await page.exposeFunction('killServer', () => control('stop', '?signal=kill').then(killed, failed));
  await page.evaluate(({ name, n }) => {
    window.c = T.collection(name);
    window.sent = 0;
    Bertsync.on('sent', () => { if (++window.sent === 5) window.killServer(); });
    for (let i = 0; i < n; i++) c.create({ name: 'w' + i, i });
  }, { name: model, n });
  await kill;
  const atKill = await page.evaluate(() => window.sent);
  await control('start');
  await until(page, () => Bertsync.state === 'online' && Bertsync.pending === 0, null, 30000);
  assert.ok(atKill < n, 'the kill came before the burst was over');

  const rows = await (await fetch(`${SERVER}/api/${model}`)).json();
  assert.equal(rows.length, n, `rows: ${rows.map((r) => r.name)}`);
  assert.deepEqual(rows.map((r) => r.i).sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i));
  assert.equal(new Set(rows.map((r) => r.id)).size, n);
  await page.context().close();
});

test('a tab closed with writes still queued: the next tab sends them', async () => {
  const model = uniqueModel('orphan');
  const first = await openPage(browser, { options: fast, initScript: cable });
  await first.evaluate(() => { window.__cable = false; Bertsync.client().transport.close(); });
  await until(first, () => Bertsync.state === 'offline');
  await first.evaluate(async (name) => {
    const c = T.collection(name);
    c.create({ name: 'left behind 1' });
    c.create({ name: 'left behind 2' });
  }, model);
  assert.equal(await first.evaluate(() => Bertsync.pending), 2);
  const ctx = first.context();
  await first.close();
  // A new tab of the same browser profile (same localStorage).
  const second = await openPage(browser, { options: fast, context: ctx });
  await until(second, () => Bertsync.state === 'online' && Bertsync.pending === 0 && T.events.includes('adopted'));
  const rows = await (await fetch(`${SERVER}/api/${model}`)).json();
  assert.deepEqual(rows.map((r) => r.name).sort(), ['left behind 1', 'left behind 2']);
  await ctx.close();
});
