// The constants: the defaults are the ones docs/client.md documents, the
// wire numbers are the external term format's, and none can be changed
// by a page at run time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  BACKOFF_JITTER, CODE, DEFAULTS, KEY, MAGIC, MAX_ATOM, METHOD, PUSH, STATE, STREAM, TAG, TRANSPORT, TRANSPORTS, VERDICT, VERSION
} from '../src/index.js';

// optionsTable reads docs/client.md's table of options into {name: default text}.
function optionsTable() {
  const doc = readFileSync(new URL('../../docs/client.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## Options'), doc.indexOf('\n## ', doc.indexOf('## Options') + 1));
  const rows = {};
  for (const line of section.split('\n')) {
    const m = line.match(/^\| (`[^|]+`) \| ([^|]+) \|/);
    if (!m) continue;
    const names = m[1].split(',').map((n) => n.trim().replace(/`/g, ''));
    const values = names.length > 1 ? m[2].split(',').map((v) => v.trim()) : [m[2].trim()];
    names.forEach((n, i) => {
      rows[n] = values[i];
    });
  }
  return rows;
}

test('every option has its documented default, and every default is documented', () => {
  const rows = optionsTable();
  assert.deepEqual(Object.keys(rows).sort(), Object.keys(DEFAULTS).sort());
  for (const [name, value] of Object.entries(DEFAULTS)) {
    const doc = rows[name];
    if (name === 'storage') {
      assert.equal(value, undefined);
      assert.equal(doc, '`localStorage`');
    } else if (typeof value === 'number') {
      assert.equal(doc, String(value), name);
    } else {
      // `'/bullet'`, `['websocket', ...]`: the JavaScript literal.
      assert.deepEqual(JSON.parse(doc.replace(/`/g, '').replace(/'/g, '"')), value, name);
    }
  }
  assert.deepEqual(DEFAULTS.transports, Object.keys(TRANSPORTS), 'every built-in transport, best first');
});

test('constants cannot be changed at run time', () => {
  for (const o of [DEFAULTS, DEFAULTS.transports, STATE, TAG, KEY, METHOD, PUSH, CODE, TRANSPORT, STREAM, VERDICT]) {
    assert.ok(Object.isFrozen(o));
  }
  // Modules are strict: writing to a frozen object throws.
  assert.throws(() => {
    DEFAULTS.url = '/elsewhere';
  }, TypeError);
});

test('the wire numbers are the external term format\'s', () => {
  assert.equal(MAGIC, 131);
  assert.deepEqual(
    [TAG.NEW_FLOAT, TAG.BIT_BINARY, TAG.COMPRESSED, TAG.SMALL_INTEGER, TAG.INTEGER, TAG.FLOAT, TAG.ATOM, TAG.SMALL_TUPLE,
      TAG.LARGE_TUPLE, TAG.NIL, TAG.STRING, TAG.LIST, TAG.BINARY, TAG.SMALL_BIG, TAG.LARGE_BIG, TAG.SMALL_ATOM, TAG.MAP,
      TAG.ATOM_UTF8, TAG.SMALL_ATOM_UTF8],
    [70, 77, 80, 97, 98, 99, 100, 104, 105, 106, 107, 108, 109, 110, 111, 115, 116, 118, 119]
  );
  assert.equal(new Set(Object.values(TAG)).size, Object.keys(TAG).length, 'no tag twice');
  assert.equal(MAX_ATOM, 255);
  assert.deepEqual(Object.values(METHOD).sort(), ['broadcast', 'create', 'delete', 'patch', 'read', 'subscribe', 'unsubscribe', 'update']);
  assert.deepEqual(Object.values(PUSH).sort(), ['broadcast', 'created', 'deleted', 'updated']);
  assert.deepEqual(Object.values(STATE).sort(), ['connecting', 'offline', 'online']);
});

test('the version is the package\'s, and the jitter leaves every delay positive', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  assert.equal(VERSION, pkg.version);
  assert.ok(BACKOFF_JITTER > 0 && BACKOFF_JITTER < 1);
});
