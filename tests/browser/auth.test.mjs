// bertsync.js with tokens, in Chromium, against a server that checks them
// (`serve --jwt-secret-file F --rules R`, started by tests/browser_test.go:
// any valid token reads, writes and listens, only a document's owner
// changes it). The tokens are HS256 JWTs signed here with the server's
// secret: a valid one syncs on every transport; no token is refused where
// an identity is needed; an expired one is renewed through renewToken; a
// token expiring while connected is renewed ahead, or when the server
// closes the WebSocket with 4401; one user cannot change another's
// document; setToken changes who the page is; the demo takes ?token=.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { launch, openPage, until, uniqueModel, AUTH_SERVER, JWT_SECRET_FILE } from './lib.mjs';

if (!AUTH_SERVER || !JWT_SECRET_FILE) {
  throw new Error('BERTSYNC_AUTH_URL and BERTSYNC_JWT_SECRET_FILE are not set: run through `go test ./tests/ -run Browser`, which starts the server that checks tokens');
}

// The server trims one trailing newline from the secret file.
const secret = readFileSync(JWT_SECRET_FILE).toString('latin1').replace(/\n$/, '');

// sign makes an HS256 JWT of claims, as the server verifies it.
function sign(claims) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const signed = part({ alg: 'HS256', typ: 'JWT' }) + '.' + part(claims);
  return signed + '.' + createHmac('sha256', Buffer.from(secret, 'latin1')).update(signed).digest('base64url');
}

// token is sub's token, valid for seconds from now (negative: expired).
function token(sub, seconds = 3600) {
  const now = Math.floor(Date.now() / 1000);
  return sign({ sub, iat: now - 120, exp: now + seconds });
}

// RENEW is the renewToken of the test pages: it logs the reason and asks
// the test (freshToken, exposed by renewing) for a token.
const RENEW = `{ renewToken: function (reason) { (window.renewals = window.renewals || []).push(reason); return window.freshToken(reason); } }`;

function renewing(sub) {
  return async (page) => {
    await page.exposeFunction('freshToken', () => token(sub));
  };
}

function authPage(options = {}, more = {}) {
  return openPage(browser, { origin: AUTH_SERVER, options, ...more });
}

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

for (const transport of ['websocket', 'eventsource', 'longpoll']) {
  test(`a valid token syncs over ${transport}`, async () => {
    const model = uniqueModel('authsync');
    const alice = await authPage({ transports: [transport], token: token('alice') });
    const bob = await authPage({ token: token('bob') });
    assert.equal(await alice.evaluate(() => Bertsync.transport), transport);
    for (const p of [alice, bob]) {
      await p.evaluate(async (name) => { window.c = T.collection(name); await c.subscribe(); }, model);
    }
    // Alice creates: the server makes her the owner; Bob hears of it.
    const created = await alice.evaluate(async () => (await T.create(c, { name: 'Ada', number: 36 })).toJSON());
    assert.equal(created.owner, 'alice');
    await until(bob, (id) => c.get(id) && c.get(id).get('name') === 'Ada', created.id);
    // Her own document: she may change it.
    await alice.evaluate(async (id) => { await c.get(id).save({ number: 37 }); }, created.id);
    await until(bob, (id) => c.get(id).get('number') === 37, created.id);
    // Pushes reach her on the forced transport.
    const bobs = await bob.evaluate(async () => (await T.create(c, { name: 'Babbage' })).toJSON());
    assert.equal(bobs.owner, 'bob');
    await until(alice, (id) => c.get(id) && c.get(id).get('owner') === 'bob', bobs.id);
    assert.equal(await alice.evaluate(() => Bertsync.transport), transport, 'the transport must not have changed');
    assert.deepEqual(await alice.evaluate(() => T.events.filter((e) => e === 'error' || e === 'down')), []);
    await alice.context().close();
    await bob.context().close();
  });
}

test('no token: the page connects anonymously, and create, read and subscribe are refused unauthorized', async () => {
  const model = uniqueModel('anon');
  const page = await authPage();
  const got = await page.evaluate(async (name) => {
    const errors = [];
    Bertsync.on('error', (e) => errors.push(e.code));
    const c = T.collection(name);
    const code = (p) => p.then(() => 'ok', (e) => e.code);
    const create = await code(T.create(c, { name: 'nobody' }));
    const read = await code(T.promise((o) => c.fetch(o)));
    const subscribe = await code(c.subscribe({ fetch: false }));
    return { create, read, subscribe, errors, state: Bertsync.state, pending: Bertsync.pending };
  }, model);
  assert.deepEqual(got, {
    create: 'unauthorized',
    read: 'unauthorized',
    subscribe: 'unauthorized',
    errors: ['unauthorized'], // the refused write, reported
    state: 'online',
    pending: 0 // a refused write is dropped, not retried
  });
  await page.context().close();
});

for (const tc of [
  { name: 'default transports', options: {} },
  { name: 'WebSocket only (the browser hides the 401: the client asks)', options: { transports: ['websocket'] } }
]) {
  test(`an expired token, ${tc.name}: renewToken is called, then the page works`, async () => {
    const model = uniqueModel('expired');
    const page = await authPage({ ...tc.options, token: token('carol', -60) }, { optionsScript: RENEW, setup: renewing('carol') });
    assert.deepEqual(await page.evaluate(() => window.renewals), ['refused']);
    assert.equal(await page.evaluate(() => Bertsync.transport), 'websocket');
    const created = await page.evaluate(async (name) => {
      window.c = T.collection(name);
      await c.subscribe();
      return (await T.create(c, { name: 'renewed' })).toJSON();
    }, model);
    assert.equal(created.owner, 'carol');
    assert.deepEqual(await page.evaluate(() => T.events.filter((e) => e === 'error')), []);
    await page.context().close();
  });
}

test('a token about to expire is renewed ahead, and the page goes on without a break', async () => {
  const model = uniqueModel('ahead');
  // Short enough to expire during the test, long enough to outlive a page load on a busy machine.
  const short = token('dave', 8);
  const exp = JSON.parse(Buffer.from(short.split('.')[1], 'base64url')).exp;
  const page = await authPage({ token: short }, { optionsScript: RENEW, setup: renewing('dave') });
  await page.evaluate(async (name) => { window.c = T.collection(name); await c.subscribe(); }, model);
  // Less than twice renewBefore left: renewed halfway to exp.
  await until(page, () => window.renewals && window.renewals.length === 1);
  assert.deepEqual(await page.evaluate(() => window.renewals), ['expiring']);
  // Past the first token's exp, the page is still on, on a connection of the new one.
  await until(page, (e) => Date.now() / 1000 > e + 1, exp, 10000);
  const created = await page.evaluate(async () => (await T.create(c, { name: 'after exp' })).toJSON());
  assert.equal(created.owner, 'dave');
  const other = await authPage({ token: token('erin') });
  await other.evaluate(async (name) => { await T.model(name, { name: 'pushed' }).save(); }, model);
  await until(page, () => c.length === 2);
  assert.deepEqual(await page.evaluate(() => T.events.filter((e) => e === 'down' || e === 'error')), [], 'no break, no error');
  assert.equal(await page.evaluate(() => Bertsync.state), 'online');
  await page.context().close();
  await other.context().close();
});

test('a WebSocket whose token expires is closed with 4401; renewToken is called and the page carries on, resubscribed', async () => {
  const model = uniqueModel('expiry');
  // renewBefore 0: no renewal ahead, so the server's close is what renews.
  const page = await authPage({ token: token('frank', 8), renewBefore: 0 }, { optionsScript: RENEW, setup: renewing('frank') });
  await page.evaluate(async (name) => {
    window.downs = [];
    Bertsync.on('down', (why) => downs.push(why));
    window.c = T.collection(name);
    await c.subscribe();
  }, model);
  await until(page, () => window.renewals && window.renewals.length === 1 && Bertsync.state === 'online', null, 15000);
  assert.deepEqual(await page.evaluate(() => window.renewals), ['refused']);
  assert.deepEqual(await page.evaluate(() => window.downs), ['websocket closed (4401 token expired)']);
  // Subscribed again on the new connection: another page's create reaches it.
  const other = await authPage({ token: token('grace') });
  await other.evaluate(async (name) => { await T.model(name, { name: 'after renewal' }).save(); }, model);
  await until(page, () => c.length === 1);
  const mine = await page.evaluate(async () => (await T.create(c, { name: 'mine' })).toJSON());
  assert.equal(mine.owner, 'frank');
  await page.context().close();
  await other.context().close();
});

test('user B cannot update or delete user A\'s document', async () => {
  const model = uniqueModel('owned');
  const alice = await authPage({ token: token('alice') });
  const bob = await authPage({ token: token('bob') });
  const id = await alice.evaluate(async (name) => {
    window.c = T.collection(name);
    return (await T.create(c, { name: 'alice\'s', number: 1 })).id;
  }, model);
  const refused = await bob.evaluate(async ({ name, id }) => {
    const code = (p) => p.then(() => 'ok', (e) => e.code);
    const m = T.model(name, { id });
    const read = await code(T.promise((o) => m.fetch(o)));
    const update = await code(T.promise((o) => m.save({ name: 'stolen', number: 2 }, o)));
    const patch = await code(T.promise((o) => m.save({ number: 3 }, Object.assign({ patch: true }, o))));
    const del = await code(T.promise((o) => m.destroy(Object.assign({ wait: true }, o))));
    return { read, update, patch, del };
  }, { name: model, id });
  assert.equal(refused.read, 'ok', 'read is "authenticated": Bob may read it');
  for (const k of ['update', 'patch', 'del']) assert.ok(['not_found', 'forbidden'].includes(refused[k]), `${k}: ${refused[k]}`);
  const after = await alice.evaluate(async ({ name, id }) => T.promise((o) => T.model(name, { id }).fetch(o)), { name: model, id });
  assert.deepEqual([after.name, after.number, after.owner], ['alice\'s', 1, 'alice']);
  await alice.context().close();
  await bob.context().close();
});

test('setToken: the page goes on as another user at once', async () => {
  const model = uniqueModel('switch');
  const page = await authPage({ token: token('alice') });
  const result = await page.evaluate(async ({ name, bobToken }) => {
    window.c = T.collection(name);
    await c.subscribe();
    const first = (await T.create(c, { name: 'as alice' })).toJSON();
    Bertsync.setToken(bobToken);
    // Right after: already as Bob.
    const second = (await T.create(c, { name: 'as bob' })).toJSON();
    const code = await T.promise((o) => c.get(first.id).save({ name: 'changed' }, o)).then(() => 'ok', (e) => e.code);
    return { first: first.owner, second: second.owner, code, transport: Bertsync.transport, events: T.events.filter((e) => e === 'token' || e === 'error') };
  }, { name: model, bobToken: token('bob') });
  assert.equal(result.first, 'alice');
  assert.equal(result.second, 'bob');
  assert.ok(['not_found', 'forbidden'].includes(result.code), `Bob changing Alice's document: ${result.code}`);
  assert.equal(result.transport, 'websocket');
  assert.deepEqual(result.events, ['token', 'error'], 'the token change, then the refused update reported');
  await page.context().close();
});

test('the demo takes ?token= and shows who it is', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.log(`[demo page error] ${e.message}`));
  await page.goto(`${AUTH_SERVER}/?token=${encodeURIComponent(token('heidi'))}`);
  await page.locator('#status.online').waitFor({ timeout: 15000 });
  assert.equal(await page.locator('#status .user').textContent(), 'as heidi');
  assert.ok(!page.url().includes('token='), `the token left the address bar: ${page.url()}`);
  const name = 'Heidi ' + Date.now().toString(36);
  await page.locator('#add input[name=name]').fill(name);
  await page.getByRole('button', { name: 'Add character' }).click();
  await page.waitForFunction((n) => window.characters.some((m) => m.get('name') === n && m.get('owner') === 'heidi'), name, { timeout: 10000 });
  await ctx.close();
});
