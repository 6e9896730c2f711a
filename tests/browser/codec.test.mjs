// The client's BERT codec, run in node (no browser needed): what it writes
// and what it reads, checked against bytes Erlang/OTP's term_to_binary
// produced (OTP 25) and the BERT-JS profile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const B = require('../../gateway/web/bertsync.js');

const hex = (b) => Buffer.from(b).toString('hex').toUpperCase();
const bytes = (h) => new Uint8Array(Buffer.from(h, 'hex'));

test('encode: the request tuple, text as binaries, atoms as ATOM_EXT', () => {
  const t = B.tuple(B.atom('sync'), B.atom('read'), B.atom('character'), { id: 'a1' }, 1);
  assert.equal(hex(B.encode(t)),
    '8368056400047379' + '6E63' + '6400047265616464000963686172616374657' + '26C00000001680264000269646D00000002613' + '16A6101');
});

test('encode: numbers', () => {
  assert.equal(hex(B.encode(0)), '836100');
  assert.equal(hex(B.encode(255)), '8361FF');
  assert.equal(hex(B.encode(256)), '836200000100');
  assert.equal(hex(B.encode(-1)), '8362FFFFFFFF');
  assert.equal(hex(B.encode(2 ** 40)), '836E0600000000000001');
  assert.equal(hex(B.encode(-(2 ** 40))), '836E0601000000000001');
  assert.equal(hex(B.encode(1.5)), '83463FF8000000000000');
  assert.equal(hex(B.encode(123456789012345678901234567890n)), '836E0D00D20A3F4EEEE073C3F60FE98E01');
  assert.throws(() => B.encode(NaN), /bert: cannot encode NaN/);
  assert.throws(() => B.encode(Infinity), /bert: /);
});

test('encode: booleans, null, lists, objects, bytes', () => {
  assert.equal(hex(B.encode(true)), '8368026400046265727464000474727565');
  assert.equal(hex(B.encode(null)), '83680264000462657274640003' + '6E696C');
  assert.equal(hex(B.encode([])), '836A');
  assert.equal(hex(B.encode({})), '836A');
  assert.equal(hex(B.encode([1, 'a'])), '836C0000000261016D00000001616A');
  assert.equal(hex(B.encode(new Uint8Array([0, 13, 10, 128, 255]))), '836D00000005000D0A80FF');
  assert.equal(hex(B.encode('\u0000\r\n\u0080\u00ff')), '836D00000007000D0AC280C3BF');
});

test('decode: the reply an Erlang server sends (NEW_FLOAT_EXT, UTF-8 binary)', () => {
  const t = B.decode(bytes('83680464000473796E636400026F6B6C00000003680264000269646D00000002613168026400046E616D656D000000045A6FC3AB68026400016E463FF80000000000006A612A'));
  assert.deepEqual(B.toJS(t), ['sync', 'ok', { id: 'a1', name: 'Zoë', n: 1.5 }, 42]);
});

test('decode: maps, latin-1 atoms, STRING_EXT, bignums, improper lists, bitstrings', () => {
  assert.deepEqual(B.toJS(B.decode(bytes('8374000000026400016E62FFFFFED46400046E616D656D0000000178'))), { n: -300, name: 'x' });
  assert.deepEqual(B.toJS(B.decode(bytes('836C000000016802640003FC6EEF6B00036162636A'))), { 'ünï': 'abc' });
  assert.equal(B.decode(bytes('836E0D00D20A3F4EEEE073C3F60FE98E01')), 123456789012345678901234567890n);
  assert.equal(B.decode(bytes('836E040101000080')), -2147483649);
  const il = B.decode(bytes('836C00000002610161026103'));
  assert.deepEqual(Array.from(il), [1, 2]);
  assert.equal(il.tail, 3);
  const bits = B.decode(bytes('834D000000010320'));
  assert.equal(bits.bits, 3);
  assert.deepEqual(Array.from(bits.data), [0x20]);
});

test('decode: BERT-JS profile: FLOAT_EXT text, {bert,...} complex types, SMALL_BIG for small numbers', () => {
  assert.equal(B.decode(bytes('8363312E3530303030303030303030303030303030303030652B30300000000000')), 1.5);
  const d = B.decode(bytes('8368056400046265727464000474696D6562000006A4620001E24062000C0A08'));
  assert.ok(d instanceof Date);
  assert.equal(d.getTime(), 1700123456789);
  assert.equal(B.decode(bytes('836E0100' + '05')), 5);
  assert.equal(B.decode(B.encode(false)), false);
  assert.equal(B.decode(B.encode(null)), null);
  assert.deepEqual(B.decode(bytes('836B0000')), '');
});

test('decode: binaries that are not UTF-8 stay bytes', () => {
  const v = B.decode(bytes('836D00000005000D0A80FF'));
  assert.ok(v instanceof Uint8Array);
  assert.deepEqual(Array.from(v), [0, 13, 10, 128, 255]);
});

test('decodeAsync: compressed terms (tag 80)', async () => {
  const t = await B.decodeAsync(bytes('835000000109789CCB604D616029AECC4B4E61604F2E4A4D2C494D4961E04CCE482C4A4C2E492DCA61606060CA604A6160CA4CC905B21993411CE6824430EF4462D2F0805989EC00A0315D05'));
  assert.deepEqual(B.toJS(t), ['sync', 'created', 'character', { id: 'c', pad: 'ab'.repeat(100) }, 7]);
});

test('decode: bad input gives an error naming the offset, never a hang', () => {
  assert.throws(() => B.decode(bytes('84')), /bert: missing magic byte 131/);
  assert.throws(() => B.decode(bytes('836D0000FFFF00')), /bert: unexpected end of data/);
  assert.throws(() => B.decode(bytes('836CFFFFFFFF')), /bert: list length/);
  assert.throws(() => B.decode(bytes('8367')), /bert: unsupported tag 103/);
  assert.throws(() => B.decode(bytes('83610101')), /bert: 1 bytes after the term/);
});

test('round trip: every code point 0..255 and beyond, through text and bytes', () => {
  let s = '';
  for (let i = 0; i < 256; i++) s += String.fromCharCode(i);
  s += 'Zoë ✓ 𝄞';
  const enc = B.encode({ s });
  assert.deepEqual(B.toJS(B.decode(enc)), { s });
  // The byte-per-char form the text transports carry.
  const bs = B.bytesToBinaryString(enc);
  assert.deepEqual(B.binaryStringToBytes(bs), enc);
  assert.throws(() => B.binaryStringToBytes('\u0100'), /above U\+00FF/);
});
