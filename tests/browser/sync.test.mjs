// Two browser contexts (two users) on one model type: each sees the
// other's creates, updates, deletes and broadcasts, live; replies find
// their requests by Ref whatever order they come in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, until, uniqueModel, SERVER } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('two contexts see each other\'s creates, updates, deletes and broadcasts', async () => {
  const model = uniqueModel('character');
  const a = await openPage(browser);
  const b = await openPage(browser);
  for (const p of [a, b]) {
    await p.evaluate(async (name) => { window.c = T.collection(name); await c.subscribe(); }, model);
  }

  // A creates: the id is the client's, and B gets it pushed.
  const created = await a.evaluate(async () => (await T.create(c, { name: 'Ada', number: 36 })).toJSON());
  assert.equal(typeof created.id, 'string');
  assert.equal(created.name, 'Ada');
  assert.equal(created.number, 36);
  await until(b, (id) => c.get(id) && c.get(id).get('name') === 'Ada', created.id);

  // B updates (save: the whole model) and patches; A sees both.
  await b.evaluate(async (id) => { await c.get(id).save({ number: 37 }); }, created.id);
  await until(a, (id) => c.get(id).get('number') === 37, created.id);
  await b.evaluate(async (id) => { await c.get(id).save({ name: 'Ada L.' }, { patch: true }); }, created.id);
  await until(a, (id) => c.get(id).get('name') === 'Ada L.' && c.get(id).get('number') === 37, created.id);

  // A saves with broadcast: B hears the broadcast, A (the sender) does not.
  await b.evaluate(() => { window.heard = []; c.on('broadcast', (props) => heard.push(props)); });
  await a.evaluate(() => { window.heard = []; c.on('broadcast', (props) => heard.push(props)); });
  await a.evaluate(async (id) => { await c.get(id).save({ number: 38 }, { broadcast: true }); }, created.id);
  const heard = await until(b, () => window.heard.length > 0 && window.heard);
  assert.equal(heard[0].id, created.id);
  assert.equal(heard[0].number, 38);
  // A plain broadcast, no save: ephemeral, nothing stored.
  await b.evaluate(async (id) => { await c.get(id).broadcast({ id, cursor: 'here' }); }, created.id);
  const heardA = await until(a, () => window.heard.length > 0 && window.heard);
  assert.deepEqual(heardA, [{ id: created.id, cursor: 'here' }]);
  assert.equal(await b.evaluate(() => window.heard.length), 1, 'the sender must not hear its own broadcast');

  // A deletes; B's collection loses it.
  await a.evaluate(async (id) => { await c.get(id).destroy({ wait: true }); }, created.id);
  await until(b, (id) => !c.get(id), created.id);

  // B saw every event once, in order, Seq rising (B's own broadcast is
  // the one Seq it skips).
  const log = await b.evaluate((name) => T.pushes[name], model);
  assert.deepEqual(log.map((p) => p.event), ['created', 'updated', 'updated', 'updated', 'broadcast', 'deleted']);
  const seqs = log.map((p) => p.seq);
  for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `seq ${JSON.stringify(seqs)}`);

  // After unsubscribe, B's collection stays as it is.
  await b.evaluate(async () => { await c.unsubscribe(); });
  const later = await a.evaluate(async () => (await T.create(c, { name: 'unseen' })).id);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await b.evaluate((id) => !!c.get(id), later), false, 'no pushes after unsubscribe');

  await a.context().close();
  await b.context().close();
});

test('replies resolve the right requests, callbacks and promises, in any order', async () => {
  const model = uniqueModel('ref');
  const p = await openPage(browser);
  const result = await p.evaluate(async (name) => {
    const c = T.collection(name);
    const n = 25;
    // Writes go out in order; make them concurrently anyway.
    const models = [];
    await Promise.all(Array.from({ length: n }, (_, i) => {
      const m = T.model(name, { name: 'm' + i, i });
      models.push(m);
      return m.save();
    }));
    // Reads are concurrent: each callback and promise gets its own model.
    const byCallback = {};
    const reads = models.map((m) => {
      const fresh = T.model(name, { id: m.id });
      return fresh.fetch({ success: (mm, resp) => { byCallback[m.id] = resp.name; } }).then((resp) => [m.get('i'), resp.name, fresh.get('i')]);
    });
    const got = await Promise.all(reads);
    await c.fetch();
    return { got, byCallback, ids: models.map((m) => [m.id, m.get('name')]), count: c.length };
  }, model);
  assert.equal(result.count, 25);
  for (const [i, name, fetchedI] of result.got) {
    assert.equal(name, 'm' + i);
    assert.equal(fetchedI, i);
  }
  for (const [id, name] of result.ids) assert.equal(result.byCallback[id], name);
  await p.context().close();
});

test('errors come back as errors: an unknown id is not_found', async () => {
  const p = await openPage(browser);
  const err = await p.evaluate(async (name) => {
    const m = T.model(name, { id: 'no-such-id' });
    try { await m.fetch(); return null; } catch (e) { return { code: e.code, message: e.message }; }
  }, uniqueModel('missing'));
  assert.equal(err?.code, 'not_found');
  assert.match(err.message, /./);
  await p.context().close();
});

test('as an ES module: bertsync.mjs exports the client, which connects when told to', async () => {
  const model = uniqueModel('esm');
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  const html = `<!doctype html><meta charset="utf-8">
    <script src="/vendor/underscore.min.js"></script>
    <script src="/vendor/backbone.min.js"></script>
    <script type="module">
      import { Client, install, encode, decode, toJS, atom } from '/bertsync.mjs';
      // Importing changes nothing, and a new client opens nothing until connect().
      const client = new Client();
      window.esm = { global: typeof window.Bertsync, ajaxSync: typeof Backbone.ajaxSync, before: client.state, transport: client.transport };
      install(Backbone, client);
      window.esm.installed = typeof Backbone.ajaxSync === 'function' && Backbone.sync !== Backbone.ajaxSync;
      client.connect();
      const M = Backbone.Model.extend({ name: ${JSON.stringify(model)} });
      const m = new M({ text: 'module' });
      await m.save();
      window.esm.state = client.state;
      const again = new M({ id: m.id });
      await again.fetch();
      window.esm.read = again.get('text');
      window.esm.codec = toJS(decode(encode([atom('a'), 'b', 1])));
    </script>`;
  await page.route(`${SERVER}/__esm__`, (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html }));
  await page.goto(`${SERVER}/__esm__`);
  const r = await until(page, () => window.esm && window.esm.read && window.esm);
  assert.deepEqual(r, { global: 'undefined', ajaxSync: 'undefined', before: 'offline', transport: null, installed: true, state: 'online', read: 'module', codec: ['a', 'b', 1] });
  await ctx.close();
});
