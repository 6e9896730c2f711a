// Streams in a real browser against the real server: a page subscribed to
// a collection loses its connection while another page writes, then comes
// back and resumes its stream: the server replays what it missed, and the
// page shows every document without reading the collection again. On each
// transport (WebSocket, EventSource + POST, long-poll + POST), with writes
// of its own queued meanwhile; and across a server restart, where the
// page either resumes (the history survived) or reloads once (it did
// not, and the epoch says so).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, until, uniqueModel, control, waitOnlineState } from './lib.mjs';

const fast = { backoffMin: 50, backoffMax: 400, readWait: 500, probeInterval: 0 };

// One writer page serves every test (each on a model type of its own):
// opening pages is most of what these tests cost.
let browser;
let writer;
before(async () => {
  browser = await launch();
  writer = await openPage(browser, { options: fast });
});
after(async () => { await browser?.close(); });

// writeTo has the writer page's c be a subscribed collection of name.
async function writeTo(name) {
  await writer.evaluate(async (name) => { window.c = T.collection(name); await c.subscribe(); }, name);
}

// cable gives a page a network cable the test can pull: while
// window.__cable is false its connections to the server fail as if the
// network were down (Chromium's offline emulation does not stop
// WebSockets to the loopback server). unplug() pulls it and ends the
// connection in use, as a dropped network would.
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
  window.unplug = function () {
    window.__cable = false;
    var t = Bertsync.client().transport;
    t.close();
    t.gone('cable pulled');
  };
`;

// watch sets the page up to show collection name (a list of the
// documents, as an app would render it) and to record what the test
// asserts: every read of the collection the client sends, the client's
// stream events, and each value a document's `v` took.
async function watch(page, name) {
  await page.evaluate(async (name) => {
    window.reads = 0;
    window.said = [];
    window.values = {};
    const cl = Bertsync.client();
    const call = cl.call;
    cl.call = function (method, model, props) {
      if (method === 'read' && model === name && !(props && props.id)) window.reads++;
      return call.apply(this, arguments);
    };
    for (const ev of ['resubscribed', 'reload', 'synced']) Bertsync.on(ev, (...args) => window.said.push([ev, ...args]));
    const list = document.createElement('ul');
    list.id = 'list';
    document.body.appendChild(list);
    window.c = T.collection(name);
    const render = () => {
      list.innerHTML = '';
      c.each((m) => {
        const li = document.createElement('li');
        li.textContent = m.get('name') + '=' + m.get('v');
        list.appendChild(li);
      });
    };
    c.on('add remove change reset sync', render);
    c.on('change:v', (m) => (window.values[m.get('name')] = window.values[m.get('name')] || []).push(m.get('v')));
    await c.subscribe();
    render();
  }, name);
}

// shown lists what the page shows, sorted.
async function shown(page) {
  return (await page.$$eval('#list li', (lis) => lis.map((li) => li.textContent))).sort();
}

const transports = [
  { name: 'WebSocket', options: { transports: ['websocket'] } },
  { name: 'EventSource + POST', options: { transports: ['eventsource'] } },
  { name: 'long-poll + POST', options: { transports: ['longpoll'] } }
];

for (const tc of transports) {
  test(`${tc.name}: a page that lost its connection resumes its stream, without reading the collection again`, async () => {
    const model = uniqueModel('stream');
    const reader = await openPage(browser, { options: { ...fast, ...tc.options }, initScript: cable });
    await watch(reader, model);
    await writeTo(model);
    const a = await writer.evaluate(async () => (await T.create(c, { name: 'A', v: 1 })).id);
    await until(reader, (id) => !!c.get(id), a);
    assert.equal(await reader.evaluate(() => window.reads), 1, 'the subscribe fetched the collection once');
    assert.equal(await reader.evaluate(() => Bertsync.transport), tc.options.transports[0]);

    await reader.evaluate(() => window.unplug());
    await until(reader, () => Bertsync.state === 'offline');

    // While the reader is away: the writer makes B..E and changes A; the
    // reader changes A too (queued, shown at once).
    await writer.evaluate(async (aId) => {
      for (const n of ['B', 'C', 'D', 'E']) await T.create(c, { name: n, v: 1 });
      await T.promise((o) => c.get(aId).save({ v: 2, by: 'writer' }, o));
    }, a);
    await reader.evaluate(async (aId) => { await c.get(aId).save({ mine: true }, { patch: true }); }, a);
    assert.equal(await reader.evaluate(() => Bertsync.pending), 1);

    const before = await reader.evaluate(() => ({ reads: window.reads, pushes: T.pushes[c.name].length }));
    await reader.evaluate(() => { window.said.length = 0; window.__cable = true; Bertsync.reconnect(); });
    await waitOnlineState(reader);
    const said = await until(reader, () => window.said.some((s) => s[0] === 'synced') && window.said, null, 15000);
    await until(reader, () => Bertsync.pending === 0);
    await until(writer, (id) => c.get(id).get('mine') === true, a);

    assert.deepEqual(said.find((s) => s[0] === 'resubscribed').slice(0, 3), ['resubscribed', model, true], `the server resumed the stream: ${JSON.stringify(said)}`);
    assert.deepEqual(said.find((s) => s[0] === 'synced'), ['synced', []], 'nothing to reload');
    assert.equal(said.some((s) => s[0] === 'reload'), false);
    const after = await reader.evaluate(() => ({ reads: window.reads, pushes: T.pushes[c.name].slice(), values: window.values }));
    assert.equal(after.reads, before.reads, 'no read of the collection after the reconnect');

    // Every document shows, A with both changes; the missed pushes and
    // then the reader's own came once each, in Seq order.
    const want = ['A=2', 'B=1', 'C=1', 'D=1', 'E=1'];
    assert.deepEqual(await shown(reader), want);
    assert.equal(await reader.evaluate((id) => c.get(id).get('mine') && c.get(id).get('by'), a), 'writer');
    const seqs = after.pushes.slice(before.pushes).map((p) => p.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, `pushes in Seq order, once each: ${seqs}`);
    // A's v went 1 -> 2 and never back: the replay of the writer's change
    // kept the reader's queued one on top.
    assert.deepEqual(after.values.A, [2], `A's v over time: ${JSON.stringify(after.values.A)}`);
    await reader.context().close();
  });
}

test('across a server restart: the page resumes when the history survived, or reloads once when its epoch changed', async (t) => {
  const model = uniqueModel('restart');
  const reader = await openPage(browser, { options: fast, initScript: cable });
  await watch(reader, model);
  await writeTo(model);
  await writer.evaluate(async () => { await T.create(c, { name: 'A', v: 1 }); });
  await until(reader, () => c.length === 1);

  await reader.evaluate(() => window.unplug());
  await writer.evaluate(async () => { await T.create(c, { name: 'B', v: 1 }); });
  await control('stop');
  await control('start');
  await waitOnlineState(writer, 20000);
  await writer.evaluate(async () => { await T.create(c, { name: 'C', v: 1 }); });

  const before = await reader.evaluate(() => window.reads);
  await reader.evaluate(() => { window.said.length = 0; window.__cable = true; Bertsync.reconnect(); });
  await waitOnlineState(reader, 20000);
  const said = await until(reader, () => window.said.some((s) => s[0] === 'synced') && window.said, null, 15000);
  const resumed = said.find((s) => s[0] === 'resubscribed');
  assert.ok(resumed, JSON.stringify(said));
  await until(reader, () => c.length === 3, null, 15000);
  const reads = (await reader.evaluate(() => window.reads)) - before;
  t.diagnostic(resumed[2] ? 'the history survived the restart: resumed' : 'the history did not survive the restart: reloaded');
  if (resumed[2]) assert.equal(reads, 0, 'resumed: no read');
  else assert.equal(reads, 1, 'not resumed: one reload');
  assert.deepEqual(await shown(reader), ['A=1', 'B=1', 'C=1']);
  await reader.context().close();
});
