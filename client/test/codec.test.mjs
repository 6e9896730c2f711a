// The codec alone: what it writes (the BERT-JS profile the server reads),
// what it reads (BERT-JS's and Erlang's forms), BigInt, and binary strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import {
  Atom, BitBinary, CodecError, MAGIC, MAX_DEPTH, TAG, Tuple, atom, binaryStringToBytes, bytesToBinaryString,
  decode, decodeAsync, encode, toJS, tuple
} from '../src/index.js';

const hex = (b) => Buffer.from(b).toString('hex').toUpperCase();
const bytes = (h) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const latin = (s) => Buffer.from(s, 'latin1').toString('hex');
const u16 = (n) => n.toString(16).padStart(4, '0');
const u32 = (n) => n.toString(16).padStart(8, '0');

// BERT-JS's writers, byte by byte, as its encode_* functions lay them out.
const bertjs = {
  atom: (s) => '64' + u16(s.length) + latin(s),
  string: (s) => '6B' + u16(s.length) + latin(s),
  small: (n) => '61' + n.toString(16).padStart(2, '0'),
  tuple: (...xs) => '68' + xs.length.toString(16).padStart(2, '0') + xs.join(''),
  list: (...xs) => '6C' + u32(xs.length) + xs.join('') + '6A',
  // "%.20e", NUL-padded to 31 bytes
  float: (f) => '63' + latin(f.toExponential(20).replace(/e([+-])(\d)$/, 'e$10$2').padEnd(31, '\0'))
};

test('reads what BERT-JS sends: STRING_EXT text, FLOAT_EXT floats, {bert, ...} types', () => {
  const req = '83' + bertjs.tuple(
    bertjs.atom('sync'), bertjs.atom('create'), bertjs.atom('character'),
    bertjs.list(
      bertjs.tuple(bertjs.atom('name'), bertjs.string('Zo\u00eb')),
      bertjs.tuple(bertjs.atom('n'), bertjs.float(1.5)),
      bertjs.tuple(bertjs.atom('ok'), bertjs.tuple(bertjs.atom('bert'), bertjs.atom('true'))),
      bertjs.tuple(bertjs.atom('none'), bertjs.tuple(bertjs.atom('bert'), bertjs.atom('nil')))
    ),
    bertjs.small(7)
  );
  assert.deepEqual(toJS(decode(bytes(req))), ['sync', 'create', 'character', { name: 'Zo\u00eb', n: 1.5, ok: true, none: null }, 7]);
  // BERT-JS writes small numbers as SMALL_BIG too, and "" as STRING_EXT of length 0.
  assert.equal(decode(bytes('836E0100FF')), 255);
  assert.equal(decode(bytes('836E020100' + '01')), -256);
  assert.equal(decode(bytes('836B0000')), '');
});

test('writes the BERT-JS profile: text as binaries, atoms as ATOM_EXT, {bert, ...} for booleans and nil', () => {
  const t = tuple(atom('sync'), atom('read'), atom('character'), { id: 'a1' }, 1);
  assert.equal(hex(encode(t)),
    ('83' + '6805' + bertjs.atom('sync') + bertjs.atom('read') + bertjs.atom('character') +
      '6C00000001' + '6802' + bertjs.atom('id') + '6D00000002' + latin('a1') + '6A' + '6101').toUpperCase());
  assert.equal(hex(encode(true)), '8368026400046265727464000474727565');
  assert.equal(hex(encode(null)), '836802640004626572746400036E696C');
  assert.equal(hex(encode(undefined)), hex(encode(null)));
  assert.equal(hex(encode([])), '836A');
  assert.equal(hex(encode({})), '836A');
  assert.equal(hex(encode(1.5)), '83463FF8000000000000');
  assert.equal(encode(atom('\u00e9t\u00e9'))[1], TAG.ATOM, 'Latin-1 names stay ATOM_EXT');
  assert.equal(encode(atom('\u2713'))[1], TAG.SMALL_ATOM_UTF8, 'names beyond Latin-1 are SMALL_ATOM_UTF8_EXT');
  assert.throws(() => encode(atom('a'.repeat(256))), /bert: atom longer than 255/);
  assert.throws(() => encode(NaN), /bert: cannot encode NaN/);
  assert.throws(() => encode(() => 1), CodecError);
});

test('round trips: what encode writes, decode and toJS read back', () => {
  const rows = [
    ['zero', 0],
    ['byte', 255],
    ['int32 low', -2147483648],
    ['int32 high', 2147483647],
    ['beyond 32 bits', 2 ** 40],
    ['negative beyond 32 bits', -(2 ** 40)],
    ['largest safe integer', Number.MAX_SAFE_INTEGER],
    ['float', -0.1],
    ['negative zero is a float', -0],
    ['text', 'Zo\u00eb \u2713 \ud834\udd1e'],
    ['nested', { a: [1, { b: 'c' }, []], d: { e: null, f: false } }],
    ['long key', { ['k'.repeat(300)]: 1 }],
    ['date', new Date(1700123456789)]
  ];
  for (const [name, v] of rows) assert.deepEqual(toJS(decode(encode(v))), v, name);
  assert.ok(Object.is(decode(encode(-0)), -0));
  const bits = decode(encode(new BitBinary(new Uint8Array([0xa0]), 3)));
  assert.deepEqual([Array.from(bits.data), bits.bits], [[0xa0], 3]);
  const raw = new Uint8Array([0, 13, 10, 0x80, 0xff]);
  assert.deepEqual(decode(encode(raw)), raw, 'bytes that are not UTF-8 come back as bytes');
  assert.deepEqual(decode(encode(raw.buffer)), raw);
  const big = new Tuple(Array.from({ length: 300 }, (_, i) => i));
  assert.equal(encode(big)[1], TAG.LARGE_TUPLE);
  assert.deepEqual(decode(encode(big)).items, big.items);
  assert.ok(decode(encode(atom('x'))) instanceof Atom);
});

test('BigInt: beyond 2^53 both ways, SMALL_BIG and LARGE_BIG, small ones as numbers', () => {
  for (const n of [2n ** 64n, -(2n ** 64n), 123456789012345678901234567890n, 2n ** 53n + 1n]) {
    const enc = encode(n);
    assert.equal(enc[1], TAG.SMALL_BIG, String(n));
    assert.equal(decode(enc), n, String(n));
  }
  assert.equal(hex(encode(123456789012345678901234567890n)), '836E0D00D20A3F4EEEE073C3F60FE98E01');
  const huge = -(2n ** 2100n) + 7n; // 263 digit bytes
  const enc = encode(huge);
  assert.equal(enc[1], TAG.LARGE_BIG);
  assert.equal(decode(enc), huge);
  // A BigInt that fits 32 bits goes as an integer and comes back as a number.
  assert.equal(hex(encode(5n)), '836105');
  assert.equal(decode(encode(-70000n)), -70000);
  // A SMALL_BIG within the safe range is a number; one past it a BigInt.
  assert.equal(typeof decode(encode(Number.MAX_SAFE_INTEGER)), 'number');
  assert.equal(typeof decode(encode(2n ** 53n)), 'bigint');
});

test('reads Erlang\'s forms: maps, Latin-1 and UTF-8 atoms, improper lists, FLOAT_EXT', () => {
  assert.deepEqual(toJS(decode(bytes('8374000000026400016E62FFFFFED46400046E616D656D0000000178'))), { n: -300, name: 'x' });
  assert.deepEqual(toJS(decode(bytes('836C000000016802640003FC6EEF6B00036162636A'))), { '\u00fcn\u00ef': 'abc' });
  const m = decode(bytes('8374000000016C000000016101' + '6A' + '6102'));
  assert.ok(m instanceof Map, 'a map with keys that are not text stays a Map');
  const il = decode(bytes('836C00000002610161026103'));
  assert.deepEqual([Array.from(il), il.tail], [[1, 2], 3]);
  assert.equal(decode(bytes('83' + bertjs.float(0.25))), 0.25);
  assert.equal(decode(bytes('8377' + '03' + 'E29C93')).name, '\u2713');
});

test('bad input is an error naming the offset, never a hang or a huge allocation', () => {
  assert.throws(() => decode(bytes('84')), /bert: missing magic byte 131 at offset 0/);
  assert.throws(() => decode(bytes('836D0000FFFF00')), /unexpected end of data/);
  assert.throws(() => decode(bytes('836CFFFFFFFF')), /list length 4294967295 exceeds the data at offset 1/);
  assert.throws(() => decode(bytes('8374FFFFFFFF')), /map size/);
  assert.throws(() => decode(bytes('8367')), /unsupported tag 103/);
  assert.throws(() => decode(bytes('83610101')), /1 bytes after the term/);
  assert.throws(() => decode(bytes('83770280FF')), /invalid UTF-8 in atom/);
  let deep = '83';
  for (let i = 0; i <= MAX_DEPTH + 1; i++) deep += '6C00000001';
  assert.throws(() => decode(bytes(deep)), /nested deeper than 512/);
  let nested = [];
  for (let i = 0; i <= MAX_DEPTH + 1; i++) nested = [nested];
  assert.throws(() => encode(nested), /nested deeper than 512/);
  assert.throws(() => decode(bytes('835000000003789C')), /use decodeAsync/);
});

test('decodeAsync reads compressed terms (tag 80) and plain ones', async () => {
  const plain = encode({ id: 'c', pad: 'ab'.repeat(100) });
  const body = deflateSync(plain.subarray(1));
  const packed = new Uint8Array(6 + body.length);
  packed.set([MAGIC, TAG.COMPRESSED]);
  new DataView(packed.buffer).setUint32(2, plain.length - 1);
  packed.set(body, 6);
  assert.deepEqual(toJS(await decodeAsync(packed)), { id: 'c', pad: 'ab'.repeat(100) });
  assert.deepEqual(toJS(await decodeAsync(plain)), { id: 'c', pad: 'ab'.repeat(100) });
  new DataView(packed.buffer).setUint32(2, 5);
  await assert.rejects(decodeAsync(packed), /header says 5/);
  await assert.rejects(decodeAsync(bytes('8350000000')), /unexpected end of data/);
});

test('binary strings: every byte value, one character each, both ways', () => {
  const all = new Uint8Array(256 * 300); // longer than one String.fromCharCode chunk
  for (let i = 0; i < all.length; i++) all[i] = i & 0xff;
  const s = bytesToBinaryString(all);
  assert.equal(s.length, all.length);
  assert.equal(s.charCodeAt(13), 13);
  assert.equal(s.charCodeAt(255), 255);
  assert.deepEqual(binaryStringToBytes(s), all);
  // A term through the text form the text transports carry.
  const term = encode({ s: s.slice(0, 256) + 'Zo\u00eb \u2713' });
  assert.deepEqual(decode(binaryStringToBytes(bytesToBinaryString(term))), decode(term));
  assert.throws(() => binaryStringToBytes('ab\u0100'), (e) => e instanceof CodecError && e.offset === 2 && /above U\+00FF/.test(e.message));
});
