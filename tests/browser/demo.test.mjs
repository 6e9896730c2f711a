// The demo app used as a person would: two tabs, type a name, add, see it
// in the other tab; change the number; attach a file; a screenshot of the
// result goes to artifacts/demo.png. Then the server stops: the page shows
// it offline with the add waiting in the queue (artifacts/demo-offline.png),
// and the other tab gets it once the server is back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launch, control, SERVER, ARTIFACTS } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('the demo app: add in one tab, see it in the other, bump, attach', async () => {
  const ctx1 = await browser.newContext({ viewport: { width: 900, height: 640 } });
  const ctx2 = await browser.newContext({ viewport: { width: 900, height: 640 } });
  const one = await ctx1.newPage();
  const two = await ctx2.newPage();
  for (const p of [one, two]) {
    p.on('pageerror', (e) => console.log(`[demo page error] ${e.message}`));
    await p.goto(SERVER + '/');
    await p.locator('#status.online').waitFor({ timeout: 15000 });
  }
  const name = 'Ada Lovelace ' + Date.now().toString(36);

  await one.locator('#add input[name=name]').fill(name);
  await one.locator('#add input[name=number]').fill('36');
  await one.getByRole('button', { name: 'Add character' }).click();

  // The other tab shows it, without a reload.
  const row2 = two.locator('li.character', { has: two.locator(`input.name[value="${name}"]`) });
  await two.waitForFunction((n) => Array.from(document.querySelectorAll('li.character input.name')).some((i) => i.value === n), name, { timeout: 10000 });
  const id = await two.evaluate((n) => Array.from(document.querySelectorAll('li.character')).find((li) => li.querySelector('input.name').value === n).dataset.id, name);
  const row1 = one.locator(`li.character[data-id="${id}"]`);
  const row2b = two.locator(`li.character[data-id="${id}"]`);
  assert.equal(await row2b.locator('output.value').textContent(), '36');

  // The second person bumps the number; the first sees it.
  await row2b.getByRole('button', { name: 'plus one' }).click();
  await row1.locator('output.value', { hasText: '37' }).waitFor({ timeout: 10000 });

  // The first attaches a file; both show the link.
  await row1.locator('input[type=file]').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('Notes on the Analytical Engine\n') });
  await row2b.locator('a.attachment', { hasText: 'notes.txt' }).waitFor({ timeout: 10000 });
  const href = await row2b.locator('a.attachment').getAttribute('href');
  const body = await (await fetch(SERVER + href)).text();
  assert.equal(body, 'Notes on the Analytical Engine\n');

  // Rename in place in tab two; tab one follows.
  await row2b.locator('input.name').fill(name + ' (Countess)');
  await row2b.locator('input.name').press('Enter');
  await one.waitForFunction((i) => document.querySelector(`li.character[data-id="${i}"] input.name`).value.endsWith('(Countess)'), id, { timeout: 10000 });

  // A second character, so the list looks like a list.
  await two.locator('#add input[name=name]').fill('Charles Babbage');
  await two.locator('#add input[name=number]').fill('42');
  await two.getByRole('button', { name: 'Add character' }).click();
  await one.waitForFunction(() => Array.from(document.querySelectorAll('li.character input.name')).some((i) => i.value === 'Charles Babbage'), null, { timeout: 10000 });

  assert.equal(await one.locator('#status .state').textContent(), 'online');
  assert.equal(await one.locator('#status .pending').textContent(), '0 pending');
  assert.ok(await row2.count() >= 0);

  mkdirSync(ARTIFACTS, { recursive: true });
  await one.screenshot({ path: join(ARTIFACTS, 'demo.png'), fullPage: true });

  // The server goes away: the page says so, and what is added meanwhile
  // waits in the queue, counted, until the server is back.
  await control('stop');
  await one.locator('#status.offline').waitFor({ timeout: 15000 });
  await one.locator('#add input[name=name]').fill('Mary Somerville');
  await one.getByRole('button', { name: 'Add character' }).click();
  await one.locator('#status .pending', { hasText: '1 pending' }).waitFor({ timeout: 5000 });
  await one.screenshot({ path: join(ARTIFACTS, 'demo-offline.png'), fullPage: true });
  await control('start');
  await one.locator('#status.online .pending', { hasText: '0 pending' }).waitFor({ timeout: 20000 });
  await two.waitForFunction(() => Array.from(document.querySelectorAll('li.character input.name')).some((i) => i.value === 'Mary Somerville'), null, { timeout: 20000 });
  // Both tabs show each character once, as the server has them.
  const stored = (await (await fetch(SERVER + '/api/character')).json()).map((r) => r.id).sort();
  for (const p of [one, two]) {
    await p.waitForFunction((n) => document.querySelectorAll('li.character').length === n, stored.length, { timeout: 10000 }).catch(() => {});
    const shown = await p.evaluate(() => Array.from(document.querySelectorAll('li.character')).map((li) => li.dataset.id));
    assert.deepEqual(shown, stored, 'rows in creation order, each once');
  }
  await ctx1.close();
  await ctx2.close();
});
