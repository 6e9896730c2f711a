// decode.js reads BERT into JavaScript: what encode.js writes and what
// Erlang's term_to_binary makes: FLOAT_EXT (99) text floats, ATOM_UTF8
// (118), SMALL_ATOM (115), STRING_EXT (107), LARGE_TUPLE (105), LARGE_BIG
// (111), MAP_EXT (116), BIT_BINARY (77), and compressed terms (80, through
// DecompressionStream where the runtime has it, in decodeAsync).
//
// decode gives the raw term model (Atom, Tuple, arrays, ...); toJS maps it
// to plain JavaScript as the client hands replies and pushes on.

import {
  BERT, COMPRESSED_HEADER, FLOAT_TEXT_SIZE, MAGIC, MAX_DEPTH, MEGA, MICROS_PER_MS, MS_PER_SECOND,
  REGEX_FLAGS, TAG
} from './constants.js';
import { bytesToBinaryString } from './binstring.js';
import { Atom, BitBinary, CodecError, Tuple, isPlainObject } from './terms.js';

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

// Reader reads big-endian values from bytes, every read checked against
// the end.
class Reader {
  constructor(bytes) {
    this.b = bytes;
    this.i = 0;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(n) {
    if (this.i + n > this.b.length) throw new CodecError('unexpected end of data', this.i);
  }

  // count reads a 32-bit element count, which must not exceed the bytes
  // left (each element takes one at least): a length bomb fails here,
  // before anything is allocated.
  count(what, at) {
    const n = this.u32();
    if (n > this.b.length - this.i) throw new CodecError(what + ' ' + n + ' exceeds the data', at);
    return n;
  }

  u8() {
    this.need(1);
    return this.b[this.i++];
  }

  u16() {
    this.need(2);
    const v = this.view.getUint16(this.i);
    this.i += 2;
    return v;
  }

  u32() {
    this.need(4);
    const v = this.view.getUint32(this.i);
    this.i += 4;
    return v;
  }

  i32() {
    this.need(4);
    const v = this.view.getInt32(this.i);
    this.i += 4;
    return v;
  }

  f64() {
    this.need(8);
    const v = this.view.getFloat64(this.i);
    this.i += 8;
    return v;
  }

  take(n) {
    this.need(n);
    const s = this.b.subarray(this.i, this.i + n);
    this.i += n;
    return s;
  }
}

function utf8Atom(bytes, at) {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    throw new CodecError('invalid UTF-8 in atom', at);
  }
}

// readBig reads a bignum's sign and little-endian digits. Numbers that fit
// a double exactly come back as numbers: BERT-JS writes small values as
// SMALL_BIG_EXT too.
function readBig(r, n) {
  const sign = r.u8();
  const digits = r.take(n);
  let v = 0n;
  for (let i = digits.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(digits[i]);
  if (sign) v = -v;
  if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return v;
}

function readFloatText(r, at) {
  const s = bytesToBinaryString(r.take(FLOAT_TEXT_SIZE)).replace(/\0+$/, '');
  const f = parseFloat(s);
  if (Number.isNaN(f)) throw new CodecError('bad FLOAT_EXT text ' + JSON.stringify(s), at);
  return f;
}

function keyText(k) {
  if (k instanceof Atom) return k.name;
  if (typeof k === 'string') return k;
  if (typeof k === 'number' || typeof k === 'bigint') return String(k);
  return null;
}

function pairsToObject(list) {
  const o = {};
  for (const p of list) {
    const k = p instanceof Tuple && p.items.length === 2 ? keyText(p.items[0]) : null;
    if (k === null) return list;
    o[k] = p.items[1];
  }
  return o;
}

function regexFlags(options) {
  let flags = '';
  for (const o of Array.isArray(options) ? options : []) {
    if (o instanceof Atom && Object.prototype.hasOwnProperty.call(REGEX_FLAGS, o.name)) flags += REGEX_FLAGS[o.name];
  }
  return flags;
}

// bertTuple turns the BERT complex types ({bert, nil}, {bert, time, ...},
// ...) into JavaScript values; any other tuple stays a Tuple.
function bertTuple(items) {
  if (items.length >= 2 && items[0] instanceof Atom && items[0].name === BERT.tag && items[1] instanceof Atom) {
    switch (items[1].name) {
      case BERT.nil:
        if (items.length === 2) return null;
        break;
      case BERT.true:
        if (items.length === 2) return true;
        break;
      case BERT.false:
        if (items.length === 2) return false;
        break;
      case BERT.dict:
        if (items.length === 3 && Array.isArray(items[2])) return pairsToObject(items[2]);
        break;
      case BERT.time:
        if (items.length === 5) {
          return new Date(items[2] * MEGA * MS_PER_SECOND + items[3] * MS_PER_SECOND + Math.floor(items[4] / MICROS_PER_MS));
        }
        break;
      case BERT.regex:
        if (items.length === 4 && typeof items[2] === 'string') {
          try {
            return new RegExp(items[2], regexFlags(items[3]));
          } catch {
            // Not a JavaScript pattern: keep the tuple.
          }
        }
        break;
    }
  }
  return new Tuple(items);
}

function readMap(r, depth, at) {
  const n = r.count('map size', at);
  const pairs = [];
  let textKeys = true;
  for (let i = 0; i < n; i++) {
    const k = readTerm(r, depth + 1);
    const v = readTerm(r, depth + 1);
    if (keyText(k) === null) textKeys = false;
    pairs.push([k, v]);
  }
  if (!textKeys) return new Map(pairs);
  const o = {};
  for (const [k, v] of pairs) o[keyText(k)] = v;
  return o;
}

function readItems(r, n, depth) {
  const items = new Array(n);
  for (let i = 0; i < n; i++) items[i] = readTerm(r, depth + 1);
  return items;
}

function readTerm(r, depth) {
  if (depth > MAX_DEPTH) throw new CodecError('term nested deeper than ' + MAX_DEPTH, r.i);
  const at = r.i;
  const tag = r.u8();
  switch (tag) {
    case TAG.SMALL_INTEGER:
      return r.u8();
    case TAG.INTEGER:
      return r.i32();
    case TAG.NEW_FLOAT:
      return r.f64();
    case TAG.FLOAT:
      return readFloatText(r, at);
    case TAG.ATOM:
      return new Atom(bytesToBinaryString(r.take(r.u16())));
    case TAG.SMALL_ATOM:
      return new Atom(bytesToBinaryString(r.take(r.u8())));
    case TAG.ATOM_UTF8:
      return new Atom(utf8Atom(r.take(r.u16()), at));
    case TAG.SMALL_ATOM_UTF8:
      return new Atom(utf8Atom(r.take(r.u8()), at));
    case TAG.SMALL_TUPLE: {
      const n = r.u8();
      if (n > r.b.length - r.i) throw new CodecError('tuple arity ' + n + ' exceeds the data', at);
      return bertTuple(readItems(r, n, depth));
    }
    case TAG.LARGE_TUPLE:
      return bertTuple(readItems(r, r.count('tuple arity', at), depth));
    case TAG.NIL:
      return [];
    case TAG.STRING:
      // A list of code points 0..255 (Erlang's "string", BERT-JS's text).
      return bytesToBinaryString(r.take(r.u16()));
    case TAG.LIST: {
      const items = readItems(r, r.count('list length', at), depth);
      const tail = readTerm(r, depth + 1);
      if (!(Array.isArray(tail) && tail.length === 0)) items.tail = tail; // an improper list
      return items;
    }
    case TAG.BINARY: {
      const bytes = r.take(r.u32());
      try {
        return utf8Strict.decode(bytes);
      } catch {
        return bytes.slice();
      }
    }
    case TAG.BIT_BINARY: {
      const n = r.u32();
      const bits = r.u8();
      return new BitBinary(r.take(n).slice(), bits);
    }
    case TAG.SMALL_BIG:
      return readBig(r, r.u8());
    case TAG.LARGE_BIG:
      return readBig(r, r.u32());
    case TAG.MAP:
      return readMap(r, depth, at);
    case TAG.COMPRESSED:
      throw new CodecError('compressed term: use decodeAsync', at);
    default:
      throw new CodecError('unsupported tag ' + tag, at);
  }
}

/**
 * decode reads one BERT term from bytes (a Uint8Array or ArrayBuffer
 * starting with 131) into the raw term model: Atom, Tuple, arrays, strings
 * (binaries that are valid UTF-8, and STRING_EXT), Uint8Array (other
 * binaries), numbers or BigInt, and null/true/false/Date/objects/RegExp
 * for the BERT complex types. Bytes after the term are an error.
 */
export function decode(bytes) {
  if (!(bytes instanceof Uint8Array)) bytes = new Uint8Array(bytes);
  const r = new Reader(bytes);
  if (r.u8() !== MAGIC) throw new CodecError('missing magic byte ' + MAGIC, 0);
  const v = readTerm(r, 0);
  if (r.i !== bytes.length) throw new CodecError(bytes.length - r.i + ' bytes after the term', r.i);
  return v;
}

/** decodeAsync is decode that also reads compressed terms (tag 80); it returns a Promise. */
export async function decodeAsync(bytes) {
  if (!(bytes instanceof Uint8Array)) bytes = new Uint8Array(bytes);
  if (bytes.length < 2 || bytes[0] !== MAGIC || bytes[1] !== TAG.COMPRESSED) return decode(bytes);
  if (typeof DecompressionStream === 'undefined') {
    throw new CodecError('compressed term and this browser has no DecompressionStream', 1);
  }
  if (bytes.length < COMPRESSED_HEADER) throw new CodecError('unexpected end of data', bytes.length);
  const size = new DataView(bytes.buffer, bytes.byteOffset).getUint32(2);
  let buf;
  try {
    const stream = new Blob([bytes.subarray(COMPRESSED_HEADER)]).stream().pipeThrough(new DecompressionStream('deflate'));
    buf = await new Response(stream).arrayBuffer();
  } catch (e) {
    throw new CodecError('bad compressed data: ' + e.message, COMPRESSED_HEADER);
  }
  if (buf.byteLength !== size) throw new CodecError('compressed term holds ' + buf.byteLength + ' bytes, header says ' + size, 2);
  const whole = new Uint8Array(buf.byteLength + 1);
  whole[0] = MAGIC;
  whole.set(new Uint8Array(buf), 1);
  return decode(whole);
}

function isProplist(list) {
  for (const p of list) {
    if (!(p instanceof Tuple) || p.items.length !== 2) return false;
    const k = p.items[0];
    if (!(k instanceof Atom) && typeof k !== 'string') return false;
  }
  return true;
}

/**
 * toJS maps a decoded term to plain JavaScript: proplists whose keys are
 * atoms or text become objects, atoms become their names, tuples become
 * arrays. Other values stay as decode returned them.
 */
export function toJS(t) {
  if (t instanceof Atom) return t.name;
  if (t instanceof Tuple) return t.items.map(toJS);
  if (Array.isArray(t)) {
    if (t.length > 0 && !t.tail && isProplist(t)) {
      const o = {};
      for (const p of t) o[keyText(p.items[0])] = toJS(p.items[1]);
      return o;
    }
    return t.map(toJS);
  }
  if (t instanceof Map) {
    const m = new Map();
    t.forEach((v, k) => m.set(toJS(k), toJS(v)));
    return m;
  }
  if (isPlainObject(t)) {
    const out = {};
    for (const k of Object.keys(t)) out[k] = toJS(t[k]);
    return out;
  }
  return t;
}
