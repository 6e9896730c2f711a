import { launch, openPage, until, uniqueModel, allBytes } from '/work/main/tests/browser/lib.mjs';
const browser = await launch();
const opts = JSON.parse(process.argv[2] || '{}');
const page = await openPage(browser, { options: opts, waitOnline: false });
page.on('console', (m) => console.log('console:', m.text()));
await page.evaluate(() => { Bertsync.on('all', function () { console.log('ev', JSON.stringify(Array.from(arguments).map(a => a instanceof Error ? a.message : a))); }); });
await new Promise(r => setTimeout(r, 1500));
console.log(await page.evaluate(() => [Bertsync.state, Bertsync.transport, JSON.stringify(T.events)]));
const model = uniqueModel('dbg');
try {
console.log(await page.evaluate(async ([name, s]) => {
  window.c = T.collection(name); await c.subscribe();
  const m = await T.create(c, { text: s });
  const f = T.model(name, {id: m.id}); await f.fetch();
  return [m.toJSON(), f.get('text') === s, c.length];
}, [model, allBytes()]));
} catch (e) { console.log('ERR', e.message); }
await browser.close();
