// Stock Backbone (no bertsync.js: Backbone.sync is jQuery.ajax) against
// the REST API, including emulateHTTP/emulateJSON, with its changes pushed
// to a bertsync client; and upload and download of a file through
// model.upload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, until, uniqueModel, SERVER } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('stock Backbone.ajaxSync against the REST API, changes pushed to bertsync clients', async () => {
  const model = uniqueModel('rest');
  const stock = await openPage(browser, { stock: true });
  const live = await openPage(browser);
  assert.equal(await stock.evaluate(() => typeof window.Bertsync), 'undefined');
  await live.evaluate(async (name) => { window.c = T.collection(name); await c.subscribe(); }, model);

  const r = await stock.evaluate(async (name) => {
    const M = Backbone.Model.extend({ urlRoot: '/api/' + name });
    const C = Backbone.Collection.extend({ url: '/api/' + name, model: M });
    const c = new C();
    const out = {};
    const a = await new Promise((resolve, reject) => c.create({ name: 'Ada', number: 1, tags: ['x', 'y'], ok: true, none: null }, { wait: true, success: resolve, error: (m, x) => reject(new Error(x.status + ' ' + x.responseText)) }));
    out.created = a.toJSON();
    await a.save({ number: 2 });
    await a.save({ name: 'Ada L.' }, { patch: true });
    const fresh = new M({ id: a.id });
    await fresh.fetch();
    out.fetched = fresh.toJSON();
    const again = new C();
    await again.fetch();
    out.count = again.length;
    // emulateHTTP + emulateJSON: POST with _method and a model= form field.
    Backbone.emulateHTTP = true;
    Backbone.emulateJSON = true;
    await fresh.save({ number: 3 });
    Backbone.emulateHTTP = false;
    Backbone.emulateJSON = false;
    await fresh.fetch();
    out.emulated = fresh.get('number');
    // Errors: a missing id is 404 with a JSON reason.
    out.missing = await new M({ id: 'nope' }).fetch().then(() => null, (x) => ({ status: x.status, body: x.responseJSON }));
    await fresh.destroy();
    out.afterDelete = await new M({ id: a.id }).fetch().then(() => 'still there', (x) => x.status);
    return out;
  }, model);
  assert.equal(r.created.name, 'Ada');
  assert.equal(r.created.number, 1);
  assert.deepEqual(r.created.tags, ['x', 'y']);
  assert.equal(r.created.ok, true);
  assert.equal(r.created.none, null);
  assert.ok(r.created.id, 'the server gives an id');
  assert.equal(r.fetched.name, 'Ada L.');
  assert.equal(r.fetched.number, 2);
  assert.equal(r.count, 1);
  assert.equal(r.emulated, 3);
  assert.equal(r.missing.status, 404);
  assert.ok(r.missing.body, 'a JSON error body');
  assert.equal(r.afterDelete, 404);

  // The bertsync client saw every REST change as a push.
  const events = await until(live, (name) => T.pushes[name].length >= 5 && T.pushes[name].map((p) => p.event), model);
  assert.deepEqual(events, ['created', 'updated', 'updated', 'updated', 'deleted']);
  assert.equal(await live.evaluate(() => c.length), 0);
  await stock.context().close();
  await live.context().close();
});

test('upload and download of a file', async () => {
  const model = uniqueModel('file');
  const page = await openPage(browser);
  const watcher = await openPage(browser);
  await watcher.evaluate(async (name) => { window.c = T.collection(name); await c.subscribe(); }, model);
  const res = await page.evaluate(async (name) => {
    const c = T.collection(name);
    const m = await T.create(c, { name: 'with file' });
    const bytes = new Uint8Array(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 8)) & 255;
    const file = new Blob([bytes], { type: 'application/octet-stream' });
    const answer = await m.upload({ file, fileName: 'bytes ÿ.bin' });
    const f = m.get('file');
    const got = new Uint8Array(await (await fetch(f.url)).arrayBuffer());
    const range = await fetch(f.url, { headers: { Range: 'bytes=10-19' } });
    const part = Array.from(new Uint8Array(await range.arrayBuffer()));
    let same = got.length === bytes.length;
    for (let i = 0; same && i < bytes.length; i++) same = got[i] === bytes[i];
    return { id: m.id, answer, f, same, rangeStatus: range.status, part, want: Array.from(bytes.slice(10, 20)) };
  }, model);
  assert.equal(res.answer.file.name, 'bytes ÿ.bin');
  assert.equal(res.answer.file.size, 4096);
  assert.match(res.answer.file.url, new RegExp("^/files/" + encodeURIComponent(model) + "/" + encodeURIComponent(res.id) + "/[0-9a-f]{64}$"));
  assert.deepEqual(res.f, res.answer.file);
  assert.ok(res.same, 'the downloaded file is the uploaded one');
  assert.equal(res.rangeStatus, 206);
  assert.deepEqual(res.part, res.want);
  // The upload set the model's file attribute, and subscribers heard.
  const seen = await until(watcher, (id) => c.get(id) && c.get(id).get('file'), res.id);
  assert.equal(seen.url, res.answer.file.url);
  assert.equal(seen.size, 4096);
  const direct = await fetch(SERVER + res.answer.file.url);
  assert.equal(direct.status, 200);
  assert.equal((await direct.arrayBuffer()).byteLength, 4096);
  await page.context().close();
  await watcher.context().close();
});
