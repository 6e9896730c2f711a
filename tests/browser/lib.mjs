// Shared helpers of the browser tests: the server under test (started by
// tests/browser_test.go, which passes its URL and a control endpoint in the
// environment), Chromium through playwright-core, and test pages.
import { chromium } from 'playwright-core';
import { randomBytes } from 'node:crypto';

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the browser tests through \`go test ./tests/ -run Browser\`, which starts the server`);
  return v;
}

export const SERVER = need('BERTSYNC_URL');
export const CONTROL = need('BERTSYNC_CONTROL');
export const CHROMIUM = process.env.BERTSYNC_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = process.env.BERTSYNC_ARTIFACTS || new URL('./artifacts/', import.meta.url).pathname;
// The server that checks tokens, and its secret's file: set only when an
// auth test file runs (see tests/browser_test.go).
export const AUTH_SERVER = process.env.BERTSYNC_AUTH_URL || '';
export const JWT_SECRET_FILE = process.env.BERTSYNC_JWT_SECRET_FILE || '';

// launch starts Chromium. LocalNetworkAccessChecks is off because the test
// pages are made up by the test (route.fulfill) and so have no address:
// Chromium would count them as public pages and block their connections to
// the loopback server. Real pages served by the server are not affected.
export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-features=LocalNetworkAccessChecks']
  });
}

/** control stops (?signal=kill) or starts the server through the Go test. */
export async function control(action, query = '') {
  const res = await fetch(`${CONTROL}/${action}${query}`, { method: 'POST' });
  const text = await res.text();
  if (!res.ok) throw new Error(`control ${action}: ${res.status} ${text}`);
  return text;
}

/** uniqueModel is a model type name no other test uses. */
export function uniqueModel(base) {
  return `${base}_${randomBytes(4).toString('hex')}`;
}

// The page's scripts are fetched from the server once and then served
// from here, so a test page loads (and reloads) while the server is down.
const scripts = ['/vendor/underscore.min.js', '/vendor/jquery.min.js', '/vendor/backbone.min.js', '/bertsync.js'];
let scriptCache = null;
async function loadScripts() {
  if (scriptCache) return scriptCache;
  const entries = await Promise.all(scripts.map(async (p) => {
    const res = await fetch(SERVER + p);
    if (!res.ok) throw new Error(`GET ${p}: ${res.status}`);
    return [p, await res.text()];
  }));
  scriptCache = new Map(entries);
  return scriptCache;
}

// helpers runs in every test page: small tools the tests call through
// page.evaluate.
const helpers = `
window.T = {
  events: [],
  pushes: {},
  collection: function (name) {
    var M = Backbone.Model.extend({ name: name });
    var C = Backbone.Collection.extend({ name: name, model: M });
    var c = new C();
    var log = (T.pushes[name] = T.pushes[name] || []);
    c.on('push', function (event, props, seq) { log.push({ event: event, props: props, seq: seq }); });
    return c;
  },
  model: function (name, attrs) {
    var M = Backbone.Model.extend({ name: name });
    return new M(attrs);
  },
  // create adds a model to c and resolves with it once the server has it.
  create: function (c, attrs, options) {
    return new Promise(function (resolve, reject) {
      c.create(attrs, Object.assign({ wait: true, success: function (m) { resolve(m); }, error: function (m, e) { reject(e); } }, options || {}));
    });
  },
  promise: function (fn) {
    return new Promise(function (resolve, reject) { fn({ success: function (m, r) { resolve(r); }, error: function (m, e) { reject(e); } }); });
  }
};
if (window.Bertsync) Bertsync.on('all', function (name) { T.events.push(name); });
`;

/**
 * openPage opens a test page at the server's origin (origin: another
 * server's) in a new context: Backbone and, unless stock is set,
 * bertsync.js connected with options, merged with the object the page
 * script optionsScript evaluates to (for options that are functions).
 * setup(page) runs before the page loads (to expose functions to it). It
 * waits until the client is online unless waitOnline is false.
 */
export async function openPage(browser, { options = {}, optionsScript = '{}', stock = false, waitOnline = true, context = null, initScript = null, origin = SERVER, setup = null } = {}) {
  const files = await loadScripts();
  const ctx = context || await browser.newContext();
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  if (initScript) await page.addInitScript(initScript);
  if (setup) await setup(page);
  const tags = scripts.filter((p) => !(stock && p === '/bertsync.js')).map((p) => `<script src="${p}"></script>`).join('\n');
  const connect = stock ? '' : `<script>Bertsync.connect(Object.assign(${JSON.stringify(options)}, ${optionsScript}));</script>`;
  const html = `<!doctype html><meta charset="utf-8"><title>bertsync test</title>\n${tags}\n${connect}\n<script>${helpers}</script>`;
  await page.route(`${origin}/__test__`, (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html }));
  for (const p of scripts) {
    await page.route(origin + p, (route) => route.fulfill({ status: 200, contentType: 'application/javascript; charset=utf-8', body: files.get(p) }));
  }
  await page.goto(`${origin}/__test__`);
  if (!stock && waitOnline) await waitOnlineState(page);
  return page;
}

export async function waitOnlineState(page, timeout = 15000) {
  await page.waitForFunction(() => Bertsync.state === 'online', null, { timeout, polling: 50 });
}

/** until polls fn(arg) in the page until it returns a truthy value, and returns it. */
export async function until(page, fn, arg, timeout = 10000) {
  const h = await page.waitForFunction(fn, arg, { timeout, polling: 50 });
  return h.jsonValue();
}

/** allBytes is a string holding every code point 0..255 (so every byte, CR and LF and NUL included) and a few beyond. */
export function allBytes() {
  let s = '';
  for (let i = 0; i < 256; i++) s += String.fromCharCode(i);
  return s + '\r\n\r\u0000\u00ff Zoë ✓ 𝄞';
}
