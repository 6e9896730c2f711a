// encode.js writes JavaScript values as BERT, in the BERT-JS profile the
// server reads, with text as binaries. A term on the wire is the byte 131
// followed by one tagged value:
//
//   atom           ATOM_EXT (100), or SMALL_ATOM_UTF8_EXT (119) when the
//                  name has characters above U+00FF
//   string         BINARY_EXT (109) holding its UTF-8 bytes
//   integer        SMALL_INTEGER_EXT (97), INTEGER_EXT (98), SMALL_BIG_EXT
//                  (110) or LARGE_BIG_EXT (111); BigInt too
//   other number   NEW_FLOAT_EXT (70); NaN and infinities are an error
//   true/false     {bert, true} / {bert, false}
//   null/undefined {bert, nil}
//   Array          LIST_EXT (108), or NIL_EXT (106) when empty
//   plain object   a proplist [{Key, Value}] with atom keys
//   Uint8Array     BINARY_EXT with those bytes (an ArrayBuffer too)
//   Date           {bert, time, MegaSeconds, Seconds, MicroSeconds}
//   Atom, Tuple, BitBinary  the types of terms.js
//   anything else with toJSON (a Backbone model): what toJSON returns

import {
  BERT, INTEGER_MAX, INTEGER_MIN, MAGIC, MAX_ATOM, MAX_DEPTH, MEGA, MICROS_PER_MS, MS_PER_SECOND,
  LATIN1_MAX, SMALL_BIG_MAX_DIGITS, SMALL_INTEGER_MAX, SMALL_TUPLE_MAX, TAG, WRITER_INITIAL_SIZE
} from './constants.js';
import { Atom, BitBinary, CodecError, Tuple, isPlainObject } from './terms.js';

const utf8Encoder = new TextEncoder();

// Writer is a growing byte buffer.
class Writer {
  constructor() {
    this.buf = new Uint8Array(WRITER_INITIAL_SIZE);
    this.len = 0;
  }

  grow(n) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }

  u8(v) {
    this.grow(1);
    this.buf[this.len++] = v;
  }

  u16(v) {
    this.grow(2);
    this.buf[this.len++] = v >>> 8;
    this.buf[this.len++] = v & 0xff;
  }

  u32(v) {
    this.grow(4);
    this.buf[this.len++] = (v >>> 24) & 0xff;
    this.buf[this.len++] = (v >>> 16) & 0xff;
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
  }

  f64(v) {
    this.grow(8);
    new DataView(this.buf.buffer, this.buf.byteOffset).setFloat64(this.len, v);
    this.len += 8;
  }

  bytes(b) {
    this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  result() {
    return this.buf.slice(0, this.len);
  }
}

function writeAtom(w, name) {
  let latin = true;
  for (let i = 0; i < name.length; i++) {
    if (name.charCodeAt(i) > LATIN1_MAX) {
      latin = false;
      break;
    }
  }
  if (latin) {
    if (name.length > MAX_ATOM) throw new CodecError('atom longer than ' + MAX_ATOM + ' characters');
    w.u8(TAG.ATOM);
    w.u16(name.length);
    w.grow(name.length);
    for (let j = 0; j < name.length; j++) w.buf[w.len++] = name.charCodeAt(j);
    return;
  }
  const b = utf8Encoder.encode(name);
  if (b.length > MAX_ATOM) throw new CodecError('atom longer than ' + MAX_ATOM + ' bytes');
  w.u8(TAG.SMALL_ATOM_UTF8);
  w.u8(b.length);
  w.bytes(b);
}

function writeBinary(w, b) {
  w.u8(TAG.BINARY);
  w.u32(b.length);
  w.bytes(b);
}

function writeBigInt(w, n) {
  let sign = 0;
  if (n < 0n) {
    sign = 1;
    n = -n;
  }
  const digits = [];
  while (n > 0n) {
    digits.push(Number(n & 0xffn));
    n >>= 8n;
  }
  if (digits.length <= SMALL_BIG_MAX_DIGITS) {
    w.u8(TAG.SMALL_BIG);
    w.u8(digits.length);
  } else {
    w.u8(TAG.LARGE_BIG);
    w.u32(digits.length);
  }
  w.u8(sign);
  w.bytes(digits);
}

function writeNumber(w, n) {
  if (Number.isInteger(n) && !Object.is(n, -0)) {
    if (n >= 0 && n <= SMALL_INTEGER_MAX) {
      w.u8(TAG.SMALL_INTEGER);
      w.u8(n);
      return;
    }
    if (n >= INTEGER_MIN && n <= INTEGER_MAX) {
      w.u8(TAG.INTEGER);
      w.u32(n >>> 0);
      return;
    }
    if (Number.isSafeInteger(n)) {
      writeBigInt(w, BigInt(n));
      return;
    }
  }
  if (!Number.isFinite(n)) throw new CodecError('cannot encode ' + n + ' (Erlang has no NaN or infinity)');
  w.u8(TAG.NEW_FLOAT);
  w.f64(n);
}

function writeBertTuple(w, name, extra) {
  w.u8(TAG.SMALL_TUPLE);
  w.u8(2 + (extra ? extra.length : 0));
  writeAtom(w, BERT.tag);
  writeAtom(w, name);
  if (extra) for (const v of extra) writeTerm(w, v, 1);
}

function writeList(w, items, depth) {
  if (items.length === 0) {
    w.u8(TAG.NIL);
    return;
  }
  w.u8(TAG.LIST);
  w.u32(items.length);
  for (const v of items) writeTerm(w, v, depth + 1);
  w.u8(TAG.NIL);
}

// writeKey writes a proplist key: an atom, as an Erlang proplist has it;
// a key too long for an atom goes as a binary, which the server reads as
// the same text.
function writeKey(w, k) {
  if (k.length <= MAX_ATOM) {
    writeAtom(w, k);
    return;
  }
  writeBinary(w, utf8Encoder.encode(k));
}

function writeObject(w, obj, depth) {
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined && typeof obj[k] !== 'function');
  if (keys.length === 0) {
    w.u8(TAG.NIL);
    return;
  }
  w.u8(TAG.LIST);
  w.u32(keys.length);
  for (const k of keys) {
    w.u8(TAG.SMALL_TUPLE);
    w.u8(2);
    writeKey(w, k);
    writeTerm(w, obj[k], depth + 1);
  }
  w.u8(TAG.NIL);
}

function writeDate(w, d) {
  const ms = d.getTime();
  const sec = Math.floor(ms / MS_PER_SECOND);
  writeBertTuple(w, BERT.time, [Math.floor(sec / MEGA), sec % MEGA, (ms - sec * MS_PER_SECOND) * MICROS_PER_MS]);
}

function writeTerm(w, v, depth) {
  if (depth > MAX_DEPTH) throw new CodecError('term nested deeper than ' + MAX_DEPTH);
  if (v === null || v === undefined) {
    writeBertTuple(w, BERT.nil);
    return;
  }
  switch (typeof v) {
    case 'string':
      writeBinary(w, utf8Encoder.encode(v));
      return;
    case 'number':
      writeNumber(w, v);
      return;
    case 'bigint':
      if (v >= BigInt(INTEGER_MIN) && v <= BigInt(INTEGER_MAX)) writeNumber(w, Number(v));
      else writeBigInt(w, v);
      return;
    case 'boolean':
      writeBertTuple(w, v ? BERT.true : BERT.false);
      return;
    case 'object':
      break;
    default:
      throw new CodecError('cannot encode a value of type ' + typeof v);
  }
  if (v instanceof Atom) {
    writeAtom(w, v.name);
  } else if (v instanceof Tuple) {
    const n = v.items.length;
    if (n <= SMALL_TUPLE_MAX) {
      w.u8(TAG.SMALL_TUPLE);
      w.u8(n);
    } else {
      w.u8(TAG.LARGE_TUPLE);
      w.u32(n);
    }
    for (const item of v.items) writeTerm(w, item, depth + 1);
  } else if (Array.isArray(v)) {
    writeList(w, v, depth);
  } else if (v instanceof Uint8Array) {
    writeBinary(w, v);
  } else if (v instanceof ArrayBuffer) {
    writeBinary(w, new Uint8Array(v));
  } else if (v instanceof Date) {
    writeDate(w, v);
  } else if (v instanceof BitBinary) {
    w.u8(TAG.BIT_BINARY);
    w.u32(v.data.length);
    w.u8(v.bits);
    w.bytes(v.data);
  } else if (typeof v.toJSON === 'function' && !isPlainObject(v)) {
    writeTerm(w, v.toJSON(), depth + 1);
  } else {
    writeObject(w, v, depth);
  }
}

/** encode returns the BERT bytes (starting with 131) of a JavaScript value. */
export function encode(value) {
  const w = new Writer();
  w.u8(MAGIC);
  writeTerm(w, value, 0);
  return w.result();
}
