/*! bertsync.js — Backbone.sync over BERT on a Bullet-compatible connection.
 *
 * Part of bertsync (MIT). Served by `bertsync serve` at /bertsync.js.
 * Documentation: docs/client.md.
 *
 * Layout of this file:
 *   1. the BERT codec (encode/decode, wire-compatible with BERT-JS and Erlang)
 *   2. byte helpers for the text transports (byte-per-char binary strings)
 *   3. the transports (WebSocket, EventSource + POST, long-poll + POST)
 *   4. the Client: Ref correlation, reconnect, offline queue, cache, pushes
 *   5. the Backbone glue (sync, subscribe, unsubscribe, upload, broadcast)
 *
 * Usable as a plain <script> (global `Bertsync`), through AMD/CommonJS, and
 * as an ES module through bertsync.mjs, which loads this file and
 * re-exports it, so there is one source.
 */
(function (root, factory) {
  'use strict';
  if (typeof define === 'function' && define.amd) {
    define([], function () { return factory(root); });
  } else if (typeof module === 'object' && module.exports) {
    module.exports = factory(root);
  } else {
    root.Bertsync = factory(root);
  }
}(typeof self !== 'undefined' ? self : (typeof globalThis !== 'undefined' ? globalThis : this), function (root) {
  'use strict';

  // ---------------------------------------------------------------------
  // 1. The BERT codec.
  //
  // A term on the wire is the byte 131 followed by one tagged value. What
  // we send (the BERT-JS profile the server reads, with text as binaries):
  //   atom           ATOM_EXT (100), or SMALL_ATOM_UTF8_EXT (119) when the
  //                  name has characters above U+00FF
  //   string         BINARY_EXT (109) holding its UTF-8 bytes
  //   integer        SMALL_INTEGER_EXT (97), INTEGER_EXT (98), SMALL_BIG (110)
  //   other number   NEW_FLOAT_EXT (70)
  //   true/false     {bert, true} / {bert, false}
  //   null/undefined {bert, nil}
  //   Array          LIST_EXT (108) or NIL_EXT (106) when empty
  //   plain object   a proplist [{key, value}] with atom keys
  //   Uint8Array     BINARY_EXT with those bytes
  //   Date           {bert, time, Mega, Sec, Micro}
  //   Tuple, Atom    the classes below
  // What we read: all of the above plus FLOAT_EXT (99), ATOM_UTF8 (118),
  // SMALL_ATOM (115), STRING_EXT (107), LARGE_TUPLE (105), LARGE_BIG (111),
  // MAP_EXT (116), BIT_BINARY (77) and compressed terms (80, through
  // DecompressionStream where the browser has it).
  // ---------------------------------------------------------------------

  var TAG = {
    NEW_FLOAT: 70, BIT_BINARY: 77, COMPRESSED: 80, SMALL_INTEGER: 97, INTEGER: 98,
    FLOAT: 99, ATOM: 100, SMALL_TUPLE: 104, LARGE_TUPLE: 105, NIL: 106,
    STRING: 107, LIST: 108, BINARY: 109, SMALL_BIG: 110, LARGE_BIG: 111,
    SMALL_ATOM: 115, MAP: 116, ATOM_UTF8: 118, SMALL_ATOM_UTF8: 119
  };
  var MAGIC = 131;
  var MAX_DEPTH = 512;

  /** Atom is an Erlang atom; its text is `name`. */
  function Atom(name) {
    if (!(this instanceof Atom)) return new Atom(name);
    this.name = String(name);
  }
  Atom.prototype.toString = function () { return this.name; };
  Atom.prototype.toJSON = function () { return this.name; };

  /** Tuple is an Erlang tuple; its elements are `items`. */
  function Tuple(items) {
    if (!(this instanceof Tuple)) return new Tuple(items);
    this.items = items || [];
  }
  Object.defineProperty(Tuple.prototype, 'length', { get: function () { return this.items.length; } });
  Tuple.prototype.toJSON = function () { return this.items; };

  /** BitBinary is a bitstring whose last byte holds only `bits` bits. */
  function BitBinary(data, bits) { this.data = data; this.bits = bits; }

  /** CodecError is thrown for bytes that are not a term we can read, or a value we cannot write. */
  function CodecError(message, offset) {
    var e = new Error('bert: ' + message + (offset !== undefined ? ' at offset ' + offset : ''));
    e.name = 'CodecError';
    e.offset = offset;
    return e;
  }

  var utf8Encoder = new TextEncoder();
  var utf8Strict = new TextDecoder('utf-8', { fatal: true });

  function ByteWriter() { this.buf = new Uint8Array(256); this.len = 0; }
  ByteWriter.prototype.grow = function (n) {
    if (this.len + n <= this.buf.length) return;
    var size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    var b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  };
  ByteWriter.prototype.u8 = function (v) { this.grow(1); this.buf[this.len++] = v; };
  ByteWriter.prototype.u16 = function (v) { this.grow(2); this.buf[this.len++] = v >>> 8; this.buf[this.len++] = v & 255; };
  ByteWriter.prototype.u32 = function (v) {
    this.grow(4);
    this.buf[this.len++] = (v >>> 24) & 255; this.buf[this.len++] = (v >>> 16) & 255;
    this.buf[this.len++] = (v >>> 8) & 255; this.buf[this.len++] = v & 255;
  };
  ByteWriter.prototype.bytes = function (b) { this.grow(b.length); this.buf.set(b, this.len); this.len += b.length; };
  ByteWriter.prototype.result = function () { return this.buf.slice(0, this.len); };

  function isPlainObject(v) {
    if (v === null || typeof v !== 'object') return false;
    var p = Object.getPrototypeOf(v);
    return p === Object.prototype || p === null;
  }

  function writeAtom(w, name) {
    var latin = true;
    for (var i = 0; i < name.length; i++) if (name.charCodeAt(i) > 255) { latin = false; break; }
    if (latin) {
      if (name.length > 255) throw CodecError('atom longer than 255 characters');
      w.u8(TAG.ATOM); w.u16(name.length);
      w.grow(name.length);
      for (var j = 0; j < name.length; j++) w.buf[w.len++] = name.charCodeAt(j);
      return;
    }
    var b = utf8Encoder.encode(name);
    if (b.length > 255) throw CodecError('atom longer than 255 bytes');
    w.u8(TAG.SMALL_ATOM_UTF8); w.u8(b.length); w.bytes(b);
  }

  function writeBigInt(w, n) {
    var sign = 0;
    if (n < 0n) { sign = 1; n = -n; }
    var digits = [];
    while (n > 0n) { digits.push(Number(n & 255n)); n >>= 8n; }
    if (digits.length < 256) { w.u8(TAG.SMALL_BIG); w.u8(digits.length); } else { w.u8(TAG.LARGE_BIG); w.u32(digits.length); }
    w.u8(sign);
    w.bytes(digits);
  }

  function writeNumber(w, n) {
    if (Number.isInteger(n) && !Object.is(n, -0)) {
      if (n >= 0 && n <= 255) { w.u8(TAG.SMALL_INTEGER); w.u8(n); return; }
      if (n >= -2147483648 && n <= 2147483647) { w.u8(TAG.INTEGER); w.u32(n >>> 0); return; }
      if (Number.isSafeInteger(n)) { writeBigInt(w, BigInt(n)); return; }
    }
    if (!isFinite(n)) throw CodecError('cannot encode ' + n + ' (Erlang has no NaN or infinity)');
    w.u8(TAG.NEW_FLOAT);
    w.grow(8);
    new DataView(w.buf.buffer, w.buf.byteOffset).setFloat64(w.len, n);
    w.len += 8;
  }

  function writeBertTuple(w, name, extra) {
    w.u8(TAG.SMALL_TUPLE); w.u8(2 + (extra ? extra.length : 0));
    writeAtom(w, 'bert'); writeAtom(w, name);
    if (extra) for (var i = 0; i < extra.length; i++) writeTerm(w, extra[i], 1);
  }

  function writeList(w, items, depth) {
    if (items.length === 0) { w.u8(TAG.NIL); return; }
    w.u8(TAG.LIST); w.u32(items.length);
    for (var i = 0; i < items.length; i++) writeTerm(w, items[i], depth + 1);
    w.u8(TAG.NIL);
  }

  function writeKey(w, k) {
    // Atom keys, as an Erlang proplist has them; a key too long for an atom
    // goes as a binary, which the server reads as the same text.
    if (k.length <= 255) { writeAtom(w, k); return; }
    var b = utf8Encoder.encode(k);
    w.u8(TAG.BINARY); w.u32(b.length); w.bytes(b);
  }

  function writeObject(w, obj, depth) {
    var keys = Object.keys(obj).filter(function (k) { return obj[k] !== undefined && typeof obj[k] !== 'function'; });
    if (keys.length === 0) { w.u8(TAG.NIL); return; }
    w.u8(TAG.LIST); w.u32(keys.length);
    for (var i = 0; i < keys.length; i++) {
      w.u8(TAG.SMALL_TUPLE); w.u8(2);
      writeKey(w, keys[i]);
      writeTerm(w, obj[keys[i]], depth + 1);
    }
    w.u8(TAG.NIL);
  }

  function writeTerm(w, v, depth) {
    if (depth > MAX_DEPTH) throw CodecError('term nested deeper than ' + MAX_DEPTH);
    if (v === null || v === undefined) { writeBertTuple(w, 'nil'); return; }
    switch (typeof v) {
      case 'string': {
        var b = utf8Encoder.encode(v);
        w.u8(TAG.BINARY); w.u32(b.length); w.bytes(b);
        return;
      }
      case 'number': writeNumber(w, v); return;
      case 'bigint':
        if (v >= -2147483648n && v <= 2147483647n) writeNumber(w, Number(v)); else writeBigInt(w, v);
        return;
      case 'boolean': writeBertTuple(w, v ? 'true' : 'false'); return;
      case 'object': break;
      default: throw CodecError('cannot encode a value of type ' + typeof v);
    }
    if (v instanceof Atom) { writeAtom(w, v.name); return; }
    if (v instanceof Tuple) {
      var n = v.items.length;
      if (n < 256) { w.u8(TAG.SMALL_TUPLE); w.u8(n); } else { w.u8(TAG.LARGE_TUPLE); w.u32(n); }
      for (var i = 0; i < n; i++) writeTerm(w, v.items[i], depth + 1);
      return;
    }
    if (Array.isArray(v)) { writeList(w, v, depth); return; }
    if (v instanceof Uint8Array) { w.u8(TAG.BINARY); w.u32(v.length); w.bytes(v); return; }
    if (v instanceof ArrayBuffer) { writeTerm(w, new Uint8Array(v), depth); return; }
    if (v instanceof Date) {
      var ms = v.getTime();
      var sec = Math.floor(ms / 1000);
      writeBertTuple(w, 'time', [Math.floor(sec / 1e6), sec % 1e6, (ms - sec * 1000) * 1000]);
      return;
    }
    if (v instanceof BitBinary) {
      w.u8(TAG.BIT_BINARY); w.u32(v.data.length); w.u8(v.bits); w.bytes(v.data);
      return;
    }
    if (typeof v.toJSON === 'function' && !isPlainObject(v)) { writeTerm(w, v.toJSON(), depth + 1); return; }
    writeObject(w, v, depth);
  }

  /** encode returns the BERT bytes (starting with 131) of a JavaScript value. */
  function encode(value) {
    var w = new ByteWriter();
    w.u8(MAGIC);
    writeTerm(w, value, 0);
    return w.result();
  }

  function Reader(bytes) {
    this.b = bytes;
    this.i = 0;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  Reader.prototype.need = function (n) {
    if (this.i + n > this.b.length) throw CodecError('unexpected end of data', this.i);
  };
  Reader.prototype.u8 = function () { this.need(1); return this.b[this.i++]; };
  Reader.prototype.u16 = function () { this.need(2); var v = this.view.getUint16(this.i); this.i += 2; return v; };
  Reader.prototype.u32 = function () { this.need(4); var v = this.view.getUint32(this.i); this.i += 4; return v; };
  Reader.prototype.i32 = function () { this.need(4); var v = this.view.getInt32(this.i); this.i += 4; return v; };
  Reader.prototype.take = function (n) { this.need(n); var s = this.b.subarray(this.i, this.i + n); this.i += n; return s; };

  function latin1(bytes) {
    var s = '';
    for (var i = 0; i < bytes.length; i += 8192) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
    return s;
  }

  function readBig(r, n) {
    var sign = r.u8();
    var digits = r.take(n);
    var v = 0n;
    for (var i = digits.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(digits[i]);
    if (sign) v = -v;
    // Numbers that fit a double exactly come back as numbers: BERT-JS
    // writes small values as SMALL_BIG too.
    if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
    return v;
  }

  // bertTuple turns the BERT complex types into JavaScript values.
  function bertTuple(items) {
    if (items.length >= 2 && items[0] instanceof Atom && items[0].name === 'bert' && items[1] instanceof Atom) {
      switch (items[1].name) {
        case 'nil': if (items.length === 2) return null; break;
        case 'true': if (items.length === 2) return true; break;
        case 'false': if (items.length === 2) return false; break;
        case 'dict':
          if (items.length === 3 && Array.isArray(items[2])) return pairsToObject(items[2]);
          break;
        case 'time':
          if (items.length === 5) return new Date(items[2] * 1e9 + items[3] * 1e3 + Math.floor(items[4] / 1e3));
          break;
        case 'regex':
          if (items.length === 4 && typeof items[2] === 'string') {
            var flags = '';
            (Array.isArray(items[3]) ? items[3] : []).forEach(function (o) {
              if (o instanceof Atom && o.name === 'caseless') flags += 'i';
              if (o instanceof Atom && o.name === 'multiline') flags += 'm';
              if (o instanceof Atom && o.name === 'dotall') flags += 's';
            });
            try { return new RegExp(items[2], flags); } catch (e) { /* keep the tuple */ }
          }
          break;
      }
    }
    return new Tuple(items);
  }

  function keyText(k) {
    if (k instanceof Atom) return k.name;
    if (typeof k === 'string') return k;
    if (typeof k === 'number' || typeof k === 'bigint') return String(k);
    return null;
  }

  function pairsToObject(list) {
    var o = {};
    for (var i = 0; i < list.length; i++) {
      var p = list[i];
      var k = p instanceof Tuple && p.items.length === 2 ? keyText(p.items[0]) : null;
      if (k === null) return list;
      o[k] = p.items[1];
    }
    return o;
  }

  function readTerm(r, depth) {
    if (depth > MAX_DEPTH) throw CodecError('term nested deeper than ' + MAX_DEPTH, r.i);
    var at = r.i;
    var tag = r.u8();
    var n, i, items, s;
    switch (tag) {
      case TAG.SMALL_INTEGER: return r.u8();
      case TAG.INTEGER: return r.i32();
      case TAG.NEW_FLOAT: r.need(8); s = r.view.getFloat64(r.i); r.i += 8; return s;
      case TAG.FLOAT: {
        s = latin1(r.take(31)).replace(/\0+$/, '');
        var f = parseFloat(s);
        if (isNaN(f)) throw CodecError('bad FLOAT_EXT text ' + JSON.stringify(s), at);
        return f;
      }
      case TAG.ATOM: n = r.u16(); return new Atom(latin1(r.take(n)));
      case TAG.SMALL_ATOM: n = r.u8(); return new Atom(latin1(r.take(n)));
      case TAG.ATOM_UTF8: n = r.u16(); return new Atom(utf8Decode(r.take(n), at));
      case TAG.SMALL_ATOM_UTF8: n = r.u8(); return new Atom(utf8Decode(r.take(n), at));
      case TAG.SMALL_TUPLE: case TAG.LARGE_TUPLE:
        n = tag === TAG.SMALL_TUPLE ? r.u8() : r.u32();
        if (n > r.b.length - r.i) throw CodecError('tuple arity ' + n + ' exceeds the data', at);
        items = new Array(n);
        for (i = 0; i < n; i++) items[i] = readTerm(r, depth + 1);
        return bertTuple(items);
      case TAG.NIL: return [];
      case TAG.STRING:
        // A list of code points 0..255 (Erlang's "string", BERT-JS's text).
        n = r.u16();
        return latin1(r.take(n));
      case TAG.LIST: {
        n = r.u32();
        if (n > r.b.length - r.i) throw CodecError('list length ' + n + ' exceeds the data', at);
        items = new Array(n);
        for (i = 0; i < n; i++) items[i] = readTerm(r, depth + 1);
        var tail = readTerm(r, depth + 1);
        if (!(Array.isArray(tail) && tail.length === 0)) items.tail = tail; // improper list
        return items;
      }
      case TAG.BINARY: {
        n = r.u32();
        var bytes = r.take(n);
        try { return utf8Strict.decode(bytes); } catch (e) { return bytes.slice(); }
      }
      case TAG.BIT_BINARY: n = r.u32(); i = r.u8(); return new BitBinary(r.take(n).slice(), i);
      case TAG.SMALL_BIG: n = r.u8(); return readBig(r, n);
      case TAG.LARGE_BIG: n = r.u32(); return readBig(r, n);
      case TAG.MAP: {
        n = r.u32();
        if (n > r.b.length - r.i) throw CodecError('map size ' + n + ' exceeds the data', at);
        var pairs = [];
        var textKeys = true;
        for (i = 0; i < n; i++) {
          var k = readTerm(r, depth + 1);
          var v = readTerm(r, depth + 1);
          if (keyText(k) === null) textKeys = false;
          pairs.push([k, v]);
        }
        if (textKeys) {
          var o = {};
          pairs.forEach(function (p) { o[keyText(p[0])] = p[1]; });
          return o;
        }
        return new Map(pairs);
      }
      case TAG.COMPRESSED:
        throw CodecError('compressed term: use decodeAsync', at);
      default:
        throw CodecError('unsupported tag ' + tag, at);
    }
  }

  function utf8Decode(bytes, at) {
    try { return utf8Strict.decode(bytes); } catch (e) { throw CodecError('invalid UTF-8 in atom', at); }
  }

  /**
   * decode reads one BERT term from bytes (a Uint8Array starting with 131)
   * into the raw term model: Atom, Tuple, arrays, strings (binaries that
   * are valid UTF-8, and STRING_EXT), Uint8Array (other binaries), numbers
   * or BigInt, null/true/false/Date/objects for the BERT complex types.
   */
  function decode(bytes) {
    if (!(bytes instanceof Uint8Array)) bytes = new Uint8Array(bytes);
    var r = new Reader(bytes);
    if (r.u8() !== MAGIC) throw CodecError('missing magic byte 131', 0);
    var v = readTerm(r, 0);
    if (r.i !== bytes.length) throw CodecError((bytes.length - r.i) + ' bytes after the term', r.i);
    return v;
  }

  /** decodeAsync is decode that also reads compressed terms (tag 80). */
  function decodeAsync(bytes) {
    if (!(bytes instanceof Uint8Array)) bytes = new Uint8Array(bytes);
    if (bytes.length < 2 || bytes[0] !== MAGIC || bytes[1] !== TAG.COMPRESSED) {
      try { return Promise.resolve(decode(bytes)); } catch (e) { return Promise.reject(e); }
    }
    if (typeof DecompressionStream === 'undefined') {
      return Promise.reject(CodecError('compressed term and this browser has no DecompressionStream', 1));
    }
    if (bytes.length < 6) return Promise.reject(CodecError('unexpected end of data', bytes.length));
    var size = new DataView(bytes.buffer, bytes.byteOffset).getUint32(2);
    var stream = new Blob([bytes.subarray(6)]).stream().pipeThrough(new DecompressionStream('deflate'));
    return new Response(stream).arrayBuffer().then(function (buf) {
      if (buf.byteLength !== size) throw CodecError('compressed term holds ' + buf.byteLength + ' bytes, header says ' + size, 2);
      var whole = new Uint8Array(buf.byteLength + 1);
      whole[0] = MAGIC;
      whole.set(new Uint8Array(buf), 1);
      return decode(whole);
    }, function (e) { throw CodecError('bad compressed data: ' + e.message, 6); });
  }

  /**
   * toJS maps a decoded term to plain JavaScript: proplists whose keys are
   * atoms or text become objects, atoms become their names, tuples become
   * arrays. Other values stay as decode returned them.
   */
  function toJS(t) {
    if (t instanceof Atom) return t.name;
    if (t instanceof Tuple) return t.items.map(toJS);
    if (Array.isArray(t)) {
      if (t.length > 0 && !t.tail && isProplist(t)) {
        var o = {};
        for (var i = 0; i < t.length; i++) o[keyText(t[i].items[0])] = toJS(t[i].items[1]);
        return o;
      }
      return t.map(toJS);
    }
    if (t instanceof Map) {
      var m = new Map();
      t.forEach(function (v, k) { m.set(toJS(k), toJS(v)); });
      return m;
    }
    if (isPlainObject(t)) {
      var out = {};
      Object.keys(t).forEach(function (k) { out[k] = toJS(t[k]); });
      return out;
    }
    return t;
  }

  function isProplist(list) {
    for (var i = 0; i < list.length; i++) {
      var p = list[i];
      if (!(p instanceof Tuple) || p.items.length !== 2) return false;
      var k = p.items[0];
      if (!(k instanceof Atom) && typeof k !== 'string') return false;
    }
    return true;
  }

  // ---------------------------------------------------------------------
  // 2. Byte-per-char binary strings: character U+00XX stands for byte XX.
  // ---------------------------------------------------------------------

  function bytesToBinaryString(bytes) { return latin1(bytes); }

  function binaryStringToBytes(s) {
    var b = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c > 255) throw CodecError('character U+' + c.toString(16) + ' above U+00FF in a binary string', i);
      b[i] = c;
    }
    return b;
  }

  // ---------------------------------------------------------------------
  // A tiny event emitter (Backbone.Events when Backbone is there).
  // ---------------------------------------------------------------------

  var Events = {
    on: function (name, fn, ctx) {
      (this._ev || (this._ev = {}));
      (this._ev[name] || (this._ev[name] = [])).push({ fn: fn, ctx: ctx });
      return this;
    },
    off: function (name, fn) {
      if (!this._ev) return this;
      if (!name) { this._ev = {}; return this; }
      if (!fn) { delete this._ev[name]; return this; }
      this._ev[name] = (this._ev[name] || []).filter(function (h) { return h.fn !== fn; });
      return this;
    },
    once: function (name, fn, ctx) {
      var self = this;
      var wrap = function () { self.off(name, wrap); return fn.apply(ctx || self, arguments); };
      return this.on(name, wrap, ctx);
    },
    trigger: function (name) {
      var args = Array.prototype.slice.call(arguments, 1);
      var lists = [(this._ev && this._ev[name]) || [], (this._ev && this._ev.all) || []];
      var self = this;
      lists[0].slice().forEach(function (h) { safeCall(h.fn, h.ctx || self, args); });
      lists[1].slice().forEach(function (h) { safeCall(h.fn, h.ctx || self, [name].concat(args)); });
      return this;
    }
  };

  function safeCall(fn, ctx, args) {
    try { fn.apply(ctx, args); } catch (e) { setTimeout(function () { throw e; }); }
  }

  // ---------------------------------------------------------------------
  // 3. Transports. Each has open() → Promise (resolved once it can carry
  // messages), send(bytes), close(); it calls onmessage(bytes) and, once,
  // onclose(reason) after it was open.
  // ---------------------------------------------------------------------

  function TransportError(message) {
    var e = new Error(message);
    e.name = 'TransportError';
    e.code = 'unavailable';
    e.transient = true;
    return e;
  }

  function absoluteURL(path, ws) {
    var u = new URL(path, root.location ? root.location.href : undefined);
    if (ws) u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    return u;
  }

  function WebSocketTransport(opts) { this.opts = opts; this.name = 'websocket'; }
  WebSocketTransport.prototype.open = function () {
    var self = this;
    return new Promise(function (resolve, reject) {
      var ws;
      try { ws = new root.WebSocket(absoluteURL(self.opts.url, true).href); } catch (e) { reject(TransportError('websocket: ' + e.message)); return; }
      ws.binaryType = 'arraybuffer';
      self.ws = ws;
      var opened = false;
      var timer = setTimeout(function () { if (!opened) { ws.close(); reject(TransportError('websocket: open timed out')); } }, self.opts.openTimeout);
      ws.onopen = function () {
        opened = true;
        clearTimeout(timer);
        self.startPing();
        resolve(self);
      };
      ws.onerror = function () { /* onclose follows */ };
      ws.onclose = function (ev) {
        clearTimeout(timer);
        self.stopPing();
        if (!opened) { reject(TransportError('websocket: closed before open (' + ev.code + ')')); return; }
        self.gone('websocket closed (' + ev.code + (ev.reason ? ' ' + ev.reason : '') + ')');
      };
      ws.onmessage = function (ev) {
        self.lastHeard = Date.now();
        if (ev.data instanceof ArrayBuffer) { self.onmessage(new Uint8Array(ev.data)); return; }
        var s = String(ev.data);
        if (s.charCodeAt(0) === MAGIC) {
          var bytes;
          try { bytes = binaryStringToBytes(s); } catch (e) { self.onerror(e); return; }
          self.onmessage(bytes);
        } else if (s !== 'pong') {
          self.onerror(new Error('server said: ' + s.slice(0, 200)));
        }
      };
    });
  };
  WebSocketTransport.prototype.startPing = function () {
    var self = this;
    this.lastHeard = Date.now();
    if (!this.opts.pingInterval) return;
    this.pinger = setInterval(function () {
      if (Date.now() - self.lastHeard > 2.5 * self.opts.pingInterval) { self.close(); self.gone('websocket: no answer to ping'); return; }
      if (self.ws.readyState === 1) self.ws.send('ping');
    }, this.opts.pingInterval);
  };
  WebSocketTransport.prototype.stopPing = function () { clearInterval(this.pinger); };
  WebSocketTransport.prototype.send = function (bytes) {
    if (!this.ws || this.ws.readyState !== 1) return Promise.reject(TransportError('websocket not open'));
    // Binary frames by default; text frames carry each byte as one
    // character, the way BERT-JS and bullet.js send.
    this.ws.send(this.opts.frames === 'text' ? bytesToBinaryString(bytes) : bytes);
    return Promise.resolve();
  };
  WebSocketTransport.prototype.close = function () {
    this.stopPing();
    this.closed = true;
    if (this.ws) { try { this.ws.close(); } catch (e) { /* already closed */ } }
  };
  WebSocketTransport.prototype.gone = function (why) {
    if (this.isGone) return;
    this.isGone = true;
    this.onclose(why);
  };

  // postMessage sends one message as a POST to the endpoint: raw BERT
  // bytes, or with frames: 'text' the byte-per-char binary string BERT-JS
  // sends (the browser puts it on the wire as UTF-8). A 200 answer
  // carries the reply, 204 none (it then comes by the poll or stream).
  function postMessage(transport, bytes) {
    var text = transport.opts.frames === 'text';
    return root.fetch(httpURL(transport.opts), {
      method: 'POST',
      body: text ? bytesToBinaryString(bytes) : bytes,
      headers: { 'Content-Type': text ? 'text/plain; charset=utf-8' : 'application/octet-stream' },
      credentials: 'same-origin',
      cache: 'no-store'
    }).then(function (res) {
      if (res.status === 204) return;
      if (!res.ok) {
        if (res.status >= 500 || res.status === 404) throw TransportError('POST: HTTP ' + res.status);
        return res.text().then(function (t) { transport.onerror(new Error('POST: HTTP ' + res.status + ': ' + t.slice(0, 200))); });
      }
      return deliverBody(transport, res);
    }, function (e) {
      throw TransportError('POST: ' + e.message);
    }).catch(function (e) {
      if (e.transient) transport.gone(e.message);
      throw e;
    });
  }

  // deliverBody hands a poll or POST response's message on: raw bytes
  // (application/octet-stream) or a byte-per-char binary string (text).
  function deliverBody(transport, res) {
    return res.arrayBuffer().then(function (buf) {
      if (!buf.byteLength) return;
      var bytes = new Uint8Array(buf);
      if (/^text\//i.test(res.headers.get('Content-Type') || '')) {
        try { bytes = binaryStringToBytes(new TextDecoder().decode(bytes)); } catch (e) { transport.onerror(e); return; }
      }
      transport.onmessage(bytes);
    });
  }

  function withQuery(url, query) { return url + (url.indexOf('?') >= 0 ? '&' : '?') + query; }

  // httpURL is the endpoint's URL for the HTTP transports. The channel
  // gives this page a session of its own: tabs share the session cookie,
  // and without it two tabs would share one session and split its pushes.
  function httpURL(opts, query) {
    var url = withQuery(opts.url, 'channel=' + opts.channel);
    return absoluteURL(query ? withQuery(url, query) : url).href;
  }

  function EventSourceTransport(opts) { this.opts = opts; this.name = 'eventsource'; }
  EventSourceTransport.prototype.open = function () {
    var self = this;
    return new Promise(function (resolve, reject) {
      if (typeof root.EventSource !== 'function') { reject(TransportError('eventsource: not in this browser')); return; }
      // ?bertsync=1 asks the server for one base64 "data:" line per
      // message: EventSource cannot carry CR bytes as they are.
      var es = new root.EventSource(httpURL(self.opts, 'bertsync=1'), { withCredentials: true });
      self.es = es;
      var opened = false;
      var timer = setTimeout(function () { if (!opened) { es.close(); reject(TransportError('eventsource: open timed out')); } }, self.opts.openTimeout);
      es.onopen = function () { opened = true; clearTimeout(timer); resolve(self); };
      es.onerror = function () {
        // The browser would reconnect on its own, into a new session;
        // the client reconnects instead, so it can fall back and replay.
        es.close();
        clearTimeout(timer);
        if (!opened) reject(TransportError('eventsource: failed to open'));
        else self.gone('eventsource closed');
      };
      es.onmessage = function (ev) {
        var bytes;
        try { bytes = binaryStringToBytes(root.atob(ev.data)); } catch (e) { self.onerror(new Error('eventsource: bad base64 message')); return; }
        self.onmessage(bytes);
      };
    });
  };
  EventSourceTransport.prototype.send = function (bytes) {
    if (this.isGone || this.closed) return Promise.reject(TransportError('eventsource closed'));
    return postMessage(this, bytes);
  };
  EventSourceTransport.prototype.close = function () { this.closed = true; if (this.es) this.es.close(); };
  EventSourceTransport.prototype.gone = WebSocketTransport.prototype.gone;

  function LongPollTransport(opts) { this.opts = opts; this.name = 'longpoll'; }
  LongPollTransport.prototype.open = function () {
    // A poll is held until the server has a message, so it cannot tell us
    // the server is there, and the session cookie would come only with
    // its answer: POSTs made meanwhile would each start a session of
    // their own. A "ping" POST, answered at once, does both first.
    var self = this;
    return root.fetch(httpURL(self.opts), {
      method: 'POST', body: 'ping', headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      credentials: 'same-origin', cache: 'no-store'
    }).then(function (res) {
      if (!res.ok) throw TransportError('long-poll: HTTP ' + res.status);
      return res.text();
    }, function (e) { throw TransportError('long-poll: ' + e.message); }).then(function () {
      self.poll();
      return self;
    });
  };
  LongPollTransport.prototype.poll = function () {
    var self = this;
    if (this.closed || this.isGone) return;
    this.abort = new AbortController();
    root.fetch(httpURL(this.opts, '_=' + Date.now()), {
      method: 'GET', credentials: 'same-origin', cache: 'no-store', signal: this.abort.signal
    }).then(function (res) {
      if (res.status === 204) return;
      if (!res.ok) throw TransportError('long-poll: HTTP ' + res.status);
      return deliverBody(self, res);
    }).then(function () {
      self.poll();
    }, function (e) {
      if (self.closed) return;
      self.gone('long-poll: ' + e.message);
    });
  };
  LongPollTransport.prototype.send = function (bytes) {
    if (this.isGone || this.closed) return Promise.reject(TransportError('long-poll closed'));
    return postMessage(this, bytes);
  };
  LongPollTransport.prototype.close = function () { this.closed = true; if (this.abort) this.abort.abort(); };
  LongPollTransport.prototype.gone = WebSocketTransport.prototype.gone;

  var TRANSPORTS = { websocket: WebSocketTransport, eventsource: EventSourceTransport, longpoll: LongPollTransport };

  // ---------------------------------------------------------------------
  // 4. The client.
  // ---------------------------------------------------------------------

  var DEFAULTS = {
    url: '/bullet',
    apiRoot: '/api',
    transports: ['websocket', 'eventsource', 'longpoll'],
    frames: 'binary',          // WebSocket frames and POST bodies: 'binary' (raw BERT) or 'text' (byte-per-char, as BERT-JS)
    openTimeout: 5000,          // ms a transport gets to open
    requestTimeout: 30000,      // ms before a request without a reply fails
    readWait: 3000,             // ms a read waits for the first connection before using the cache
    backoffMin: 100,            // reconnect delay doubles from here ...
    backoffMax: 5000,           // ... up to here, each with ±50% jitter
    probeInterval: 15000,       // ms between WebSocket probes while on a fallback (0: never)
    pingInterval: 20000,        // ms between WebSocket pings (0: never)
    storage: undefined,         // a Storage (default localStorage; null: memory only)
    prefix: 'bertsync:'         // localStorage key prefix
  };

  function BertsyncError(code, message) {
    var e = new Error(message);
    e.name = 'BertsyncError';
    e.code = code;
    return e;
  }

  function newId() {
    // Time-ordered and random: ids made offline in two tabs do not clash.
    var t = Date.now().toString(36);
    var rnd = new Uint8Array(8);
    (root.crypto || {}).getRandomValues ? root.crypto.getRandomValues(rnd) : rnd.forEach(function (_, i) { rnd[i] = Math.random() * 256; });
    var r = '';
    for (var i = 0; i < rnd.length; i++) r += (rnd[i] % 36).toString(36);
    return t + r;
  }

  function memoryStorage() {
    var m = new Map();
    return {
      getItem: function (k) { return m.has(k) ? m.get(k) : null; },
      setItem: function (k, v) { m.set(k, String(v)); },
      removeItem: function (k) { m.delete(k); },
      key: function (i) { return Array.from(m.keys())[i] || null; },
      get length() { return m.size; }
    };
  }

  function defaultStorage() {
    try { var s = root.localStorage; s.setItem('bertsync:probe', '1'); s.removeItem('bertsync:probe'); return s; } catch (e) { return memoryStorage(); }
  }

  function jitter(ms) { return Math.round(ms * (0.5 + Math.random())); }

  /**
   * Client owns one logical connection to the Bullet endpoint: it picks a
   * transport, reconnects, keeps the offline queue and the cache, and
   * correlates replies by Ref.
   */
  function Client(options) {
    this.opts = Object.assign({}, DEFAULTS, options || {});
    this.opts.channel = newId();
    this.opts.transports = this.opts.transports.filter(function (t) {
      if (!TRANSPORTS[t]) throw new Error('bertsync: unknown transport ' + t);
      return true;
    });
    this.storage = this.opts.storage === undefined ? defaultStorage() : (this.opts.storage || memoryStorage());
    this.state = 'connecting';
    this.transport = null;
    this.ref = 0;
    this.pendingReplies = new Map();
    this.subscriptions = new Map(); // model name -> Set of collections
    this.lastSeq = new Map();
    this.seen = new Map();           // "model/seq" -> time, drops pushes seen twice while switching transports
    this.models = new Map();         // queue item id -> live Backbone model
    this.waiters = new Map();        // queue item id -> {resolve, reject}
    this.attempt = 0;
    this.tab = this.tabId();
    this.queue = this.loadQueue();
    this.stopped = false;
    var self = this;
    // Nothing is sent or stored before this tab owns its queue.
    this.tabReady = false;
    this.claimTab().then(function () {
      self.tabReady = true;
      self.saveQueue();
      self.beat();
      return self.adoptOrphans();
    }).then(function () { self.trigger('pending', self.queue.length); self.pump(); });
    this.heartbeat = setInterval(function () {
      if (!self.tabReady) return;
      self.beat();
      self.adoptOrphans();
    }, 5000);
    if (root.addEventListener) {
      this.onOnline = function () { self.reconnectNow(); };
      root.addEventListener('online', this.onOnline);
    }
    this.connectLoop();
  }
  Object.assign(Client.prototype, Events);

  Object.defineProperty(Client.prototype, 'pending', { get: function () { return this.queue.length; } });

  Client.prototype.key = function (s) { return this.opts.prefix + s; };

  Client.prototype.tabId = function () {
    // One queue per tab: two tabs replaying one shared queue would send
    // every write twice. sessionStorage survives a reload of the same tab.
    var id;
    try { id = root.sessionStorage.getItem('bertsync:tab'); } catch (e) { /* no sessionStorage */ }
    if (!id) {
      id = newId();
      try { root.sessionStorage.setItem('bertsync:tab', id); } catch (e) { /* memory only */ }
    }
    return id;
  };

  Client.prototype.beat = function () {
    try { this.storage.setItem(this.key('alive:' + this.tab), String(Date.now())); } catch (e) { /* full */ }
  };

  Client.prototype.loadQueue = function () {
    try { return JSON.parse(this.storage.getItem(this.key('queue:' + this.tab)) || '[]'); } catch (e) { return []; }
  };

  Client.prototype.saveQueue = function () {
    if (!this.tabReady) return;
    try {
      if (this.queue.length) this.storage.setItem(this.key('queue:' + this.tab), JSON.stringify(this.queue));
      else this.storage.removeItem(this.key('queue:' + this.tab));
    } catch (e) { this.trigger('error', BertsyncError('too_large', 'offline queue does not fit in localStorage: ' + e.message)); }
  };

  function tabLocks() {
    return root.navigator && root.navigator.locks && typeof root.navigator.locks.request === 'function' ? root.navigator.locks : null;
  }

  // claimTab takes a Web Lock named after this tab's id for the tab's
  // lifetime: the browser frees it when the tab goes, which is how other
  // tabs tell an orphaned queue. When the lock is taken, another live tab
  // has this id (a duplicated tab copies sessionStorage): this one gets a
  // new id and leaves that tab's queue alone.
  Client.prototype.claimTab = function () {
    var self = this;
    var locks = tabLocks();
    if (!locks) return Promise.resolve();
    var loaded = new Set(this.queue.map(function (q) { return q.qid; }));
    return new Promise(function (resolve) {
      var claim = function () {
        locks.request(self.key('tab:' + self.tab), { ifAvailable: true }, function (lock) {
          if (!lock) {
            self.tab = newId();
            try { root.sessionStorage.setItem('bertsync:tab', self.tab); } catch (e) { /* memory only */ }
            self.queue = self.queue.filter(function (q) { return !loaded.has(q.qid); });
            claim();
            return undefined;
          }
          resolve();
          return new Promise(function (release) { self.releaseTab = release; });
        }).catch(function () { resolve(); });
      };
      claim();
    });
  };

  // ORPHAN_AGE is how long a tab's heartbeat may be silent before its
  // queue counts as orphaned, where the browser has no Web Locks. It is
  // long because browsers throttle the timers of hidden tabs to once a
  // minute.
  var ORPHAN_AGE = 5 * 60 * 1000;

  Client.prototype.otherQueues = function () {
    var prefix = this.key('queue:');
    var tabs = [];
    for (var i = 0; i < this.storage.length; i++) {
      var k = this.storage.key(i);
      if (k && k.indexOf(prefix) === 0 && k !== prefix + this.tab) tabs.push(k.slice(prefix.length));
    }
    return tabs;
  };

  // adoptOrphans takes over the queues of tabs that closed before their
  // writes were sent, so no write is lost when a tab closes offline. The
  // adopted writes go after this tab's own.
  Client.prototype.adoptOrphans = function () {
    var self = this;
    if (!this.tabReady || this.stopped || !this.otherQueues().length) return Promise.resolve();
    var take = function (tabs) {
      var n = 0;
      tabs.forEach(function (tab) {
        try {
          var items = JSON.parse(self.storage.getItem(self.key('queue:' + tab)) || '[]');
          self.storage.removeItem(self.key('queue:' + tab));
          self.storage.removeItem(self.key('alive:' + tab));
          self.queue = self.queue.concat(items);
          n += items.length;
        } catch (e) { /* unreadable: leave it */ }
      });
      if (!n) return;
      self.saveQueue();
      self.trigger('adopted', n);
      self.trigger('pending', self.queue.length);
      self.pump();
    };
    var locks = tabLocks();
    if (!locks) {
      var now = Date.now();
      take(this.otherQueues().filter(function (t) { return now - Number(self.storage.getItem(self.key('alive:' + t)) || 0) > ORPHAN_AGE; }));
      return Promise.resolve();
    }
    // One tab adopts at a time, so no queue is taken twice.
    return locks.request(this.key('adopt'), function () {
      return locks.query().then(function (st) {
        var held = new Set((st.held || []).map(function (l) { return l.name; }));
        take(self.otherQueues().filter(function (t) { return !held.has(self.key('tab:' + t)); }));
      });
    }).catch(function (e) { self.trigger('error', e); });
  };

  Client.prototype.setState = function (state) {
    if (this.state === state) return;
    this.state = state;
    this.trigger('state', state, this.transport && this.transport.name);
  };

  // connectLoop tries the transports in order until one opens, then waits
  // with backoff and tries again.
  Client.prototype.connectLoop = function () {
    var self = this;
    if (this.stopped || this.connecting) return;
    this.connecting = true;
    clearTimeout(this.retryTimer);
    var list = this.opts.transports.slice();
    var tryNext = function (i, lastErr) {
      if (self.stopped) { self.connecting = false; return; }
      if (i >= list.length) {
        self.connecting = false;
        self.attempt++;
        self.setState('offline');
        self.failPendingRequests(lastErr || TransportError('no transport'));
        var delay = jitter(Math.min(self.opts.backoffMax, self.opts.backoffMin * Math.pow(2, self.attempt - 1)));
        self.trigger('retry', delay, lastErr);
        self.retryTimer = setTimeout(function () { self.connectLoop(); }, delay);
        return;
      }
      var t = new TRANSPORTS[list[i]](self.opts);
      self.wire(t);
      t.open().then(function () {
        self.connecting = false;
        if (self.stopped) { t.close(); return; }
        self.attempt = 0;
        self.up(t, i > 0);
      }, function (err) {
        tryNext(i + 1, err);
      });
    };
    tryNext(0);
  };

  Client.prototype.reconnectNow = function () {
    if (this.state === 'online' || this.connecting || this.stopped) return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.connectLoop();
  };

  Client.prototype.wire = function (t) {
    var self = this;
    t.inbox = Promise.resolve();
    t.onmessage = function (bytes) {
      // Decoding may be async (compressed terms): a chain keeps order.
      t.inbox = t.inbox.then(function () { return decodeAsync(bytes); }).then(function (term) {
        self.receive(term, t);
      }, function (e) { self.trigger('error', e); });
    };
    t.onerror = function (e) { self.trigger('error', e); };
    t.onclose = function (why) { self.down(t, why); };
  };

  Client.prototype.up = function (t, fallback) {
    var old = this.transport;
    if (!old) {
      // A new session: the server may have restarted and counts Seq
      // from 1 again. Only a switch of transports keeps the old counts.
      this.seen.clear();
      this.lastSeq.clear();
    }
    this.transport = t;
    this.setState('online');
    this.trigger('transport', t.name);
    var self = this;
    // Subscriptions live in the server's session: renew them, then send
    // what was queued, then catch up on what happened meanwhile.
    var subs = Array.from(this.subscriptions.keys());
    Promise.all(subs.map(function (m) { return self.request('subscribe', m, []).catch(function () {}); })).then(function () {
      if (old) self.retire(old);
      self.pump();
      return self.drained();
    }).then(function () {
      self.subscriptions.forEach(function (cols) {
        cols.forEach(function (c) { c.fetch({ remove: true, bertsyncCatchUp: true }); });
      });
    });
    if (fallback) this.scheduleProbe();
  };

  // retire closes a transport that another replaced, once its requests
  // are answered (or failed).
  Client.prototype.retire = function (old) {
    var self = this;
    var inFlight = [];
    this.pendingReplies.forEach(function (p) { if (p.transport === old) inFlight.push(p.promise.catch(function () {})); });
    var done = false;
    var close = function () { if (done) return; done = true; old.retired = true; old.close(); };
    Promise.all(inFlight).then(close);
    setTimeout(close, 5000);
  };

  Client.prototype.scheduleProbe = function () {
    var self = this;
    clearTimeout(this.probeTimer);
    if (!this.opts.probeInterval || this.opts.transports[0] === (this.transport && this.transport.name)) return;
    this.probeTimer = setTimeout(function () { self.probe(); }, jitter(this.opts.probeInterval));
  };

  // probe tries the first (best) transport while on a fallback and moves
  // to it when it opens: bullet.js never goes back, we do.
  Client.prototype.probe = function () {
    var self = this;
    if (this.stopped || this.state !== 'online') return;
    var t = new TRANSPORTS[this.opts.transports[0]](this.opts);
    this.wire(t);
    t.open().then(function () {
      if (self.stopped || self.state !== 'online') { t.close(); return; }
      self.trigger('probe', t.name, true);
      self.up(t, false);
    }, function () {
      self.trigger('probe', t.name, false);
      self.scheduleProbe();
    });
  };

  Client.prototype.down = function (t, why) {
    if (t.retired || t !== this.transport) return;
    this.transport = null;
    clearTimeout(this.probeTimer);
    this.setState('offline');
    this.failPendingRequests(TransportError(why), t);
    this.trigger('down', why);
    var self = this;
    this.retryTimer = setTimeout(function () { self.connectLoop(); }, jitter(this.opts.backoffMin));
  };

  Client.prototype.failPendingRequests = function (err, t) {
    var self = this;
    this.pendingReplies.forEach(function (p, ref) {
      if (t && p.transport !== t) return;
      self.pendingReplies.delete(ref);
      clearTimeout(p.timer);
      p.reject(err);
    });
  };

  Client.prototype.close = function () {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.probeTimer);
    clearInterval(this.heartbeat);
    clearTimeout(this.pumpTimer);
    if (this.releaseTab) this.releaseTab();
    if (root.removeEventListener && this.onOnline) root.removeEventListener('online', this.onOnline);
    if (this.transport) { this.transport.retired = true; this.transport.close(); }
    this.transport = null;
    this.failPendingRequests(TransportError('client closed'));
    this.setState('offline');
  };

  /**
   * request sends {sync, Method, Model, Props, Ref} on the current
   * transport and resolves with the reply's message mapped to plain JS.
   */
  Client.prototype.request = function (method, model, props) {
    var t = this.transport;
    if (!t || this.state !== 'online') return Promise.reject(TransportError('offline'));
    var ref = ++this.ref;
    var bytes;
    try {
      bytes = encode(new Tuple([new Atom('sync'), new Atom(method), new Atom(model), props, ref]));
    } catch (e) { return Promise.reject(BertsyncError('bad_request', e.message)); }
    var self = this;
    var entry = { transport: t };
    entry.promise = new Promise(function (resolve, reject) {
      entry.resolve = resolve;
      entry.reject = reject;
      entry.timer = setTimeout(function () {
        self.pendingReplies.delete(ref);
        reject(TransportError('no reply to ' + method + ' ' + model + ' within ' + self.opts.requestTimeout + ' ms'));
      }, self.opts.requestTimeout);
    });
    this.pendingReplies.set(ref, entry);
    t.send(bytes).catch(function (e) {
      if (self.pendingReplies.get(ref) === entry) {
        self.pendingReplies.delete(ref);
        clearTimeout(entry.timer);
        entry.reject(e);
      }
    });
    return entry.promise;
  };

  Client.prototype.receive = function (term, t) {
    if (!(term instanceof Tuple) || !(term.items[0] instanceof Atom) || term.items[0].name !== 'sync') {
      this.trigger('error', BertsyncError('bad_request', 'unexpected message from the server'));
      return;
    }
    var it = term.items;
    var kind = it[1] instanceof Atom ? it[1].name : '';
    if ((kind === 'ok' || kind === 'error') && (it.length === 4 || it.length === 3)) {
      var entry = it.length === 4 ? this.pendingReplies.get(it[3]) : undefined;
      if (!entry) {
        if (kind === 'error') this.trigger('error', replyError(it[2]));
        return;
      }
      this.pendingReplies.delete(it[3]);
      clearTimeout(entry.timer);
      if (kind === 'ok') entry.resolve(toJS(it[2]));
      else entry.reject(replyError(it[2]));
      return;
    }
    if (it.length === 5 && (kind === 'created' || kind === 'updated' || kind === 'deleted' || kind === 'broadcast')) {
      var model = it[2] instanceof Atom ? it[2].name : String(it[2]);
      this.push(kind, model, toJS(it[3]), it[4]);
      return;
    }
    this.trigger('error', BertsyncError('bad_request', 'unexpected message from the server'));
  };

  function replyError(reason) {
    if (reason instanceof Tuple && reason.items.length === 2) {
      return BertsyncError(toJS(reason.items[0]), String(toJS(reason.items[1])));
    }
    return BertsyncError('internal', String(toJS(reason)));
  }

  Client.prototype.push = function (event, model, props, seq) {
    // While two transports overlap (a probe took over) the same push can
    // come twice; Seq tells them apart.
    var key = model + '/' + seq;
    var now = Date.now();
    if (this.seen.has(key) && now - this.seen.get(key) < 30000) return;
    this.seen.set(key, now);
    if (this.seen.size > 2000) {
      var self = this;
      this.seen.forEach(function (t, k) { if (now - t > 30000) self.seen.delete(k); });
    }
    if (props && typeof props === 'object' && !Array.isArray(props)) {
      if (event === 'created' || event === 'updated') this.cachePut(model, props);
      if (event === 'deleted') this.cacheDelete(model, props.id);
    } else if (Array.isArray(props) && props.length === 0) {
      props = {};
    }
    var last = this.lastSeq.get(model);
    this.lastSeq.set(model, seq);
    var gap = typeof last === 'number' && typeof seq === 'number' && seq > last + 1;
    var cols = this.subscriptions.get(model);
    if (cols) {
      cols.forEach(function (c) {
        applyPush(c, event, props, seq);
        // A gap means pushes were missed (a broadcast of our own also
        // skips one Seq): read the collection again to be sure.
        if (gap && event !== 'broadcast') c.fetch({ remove: true, bertsyncCatchUp: true });
      });
    }
    this.trigger('push', event, model, props, seq);
    if (event === 'broadcast') this.trigger('broadcast', model, props, seq);
  };

  function applyPush(c, event, props, seq) {
    var id = props && props.id;
    switch (event) {
      case 'created':
      case 'updated': {
        var m = id !== undefined ? c.get(id) : null;
        if (m) m.set(m.parse(props, { bertsyncPush: true }), { bertsyncPush: true });
        else c.add(props, { parse: true, merge: true, bertsyncPush: true });
        break;
      }
      case 'deleted':
        if (id !== undefined) c.remove(id, { bertsyncPush: true });
        break;
      case 'broadcast':
        // A model's events bubble up to its collection: trigger once.
        if (id !== undefined && c.get(id)) c.get(id).trigger('broadcast', props, seq);
        else c.trigger('broadcast', props, seq);
        break;
    }
    c.trigger('push', event, props, seq, c);
  }

  // The cache: the last known attributes of each model, per model type,
  // in localStorage, so reads work offline.
  Client.prototype.cacheLoad = function (model) {
    try { return JSON.parse(this.storage.getItem(this.key('cache:' + model)) || 'null'); } catch (e) { return null; }
  };
  Client.prototype.cacheSave = function (model, list) {
    try { this.storage.setItem(this.key('cache:' + model), JSON.stringify(list)); } catch (e) { /* a cache may fail */ }
  };
  Client.prototype.cachePut = function (model, attrs) {
    if (!attrs || attrs.id === undefined) return;
    var list = this.cacheLoad(model) || [];
    var i = list.findIndex(function (a) { return String(a.id) === String(attrs.id); });
    if (i >= 0) list[i] = Object.assign({}, list[i], attrs); else list.push(attrs);
    this.cacheSave(model, list);
  };
  Client.prototype.cacheDelete = function (model, id) {
    var list = this.cacheLoad(model);
    if (!list) return;
    this.cacheSave(model, list.filter(function (a) { return String(a.id) !== String(id); }));
  };
  Client.prototype.cacheRead = function (model, id) {
    var list = this.cacheLoad(model);
    if (id === undefined) {
      if (!list) return Promise.reject(BertsyncError('unavailable', 'offline, and ' + model + ' was never read'));
      return Promise.resolve(list);
    }
    var found = (list || []).find(function (a) { return String(a.id) === String(id); });
    if (!found) return Promise.reject(BertsyncError('unavailable', 'offline, and ' + model + ' ' + id + ' is not cached'));
    return Promise.resolve(Object.assign({}, found));
  };

  Client.prototype.whenOnline = function (ms) {
    if (this.state === 'online') return Promise.resolve(true);
    var self = this;
    return new Promise(function (resolve) {
      var done = function (v) { self.off('state', onState); clearTimeout(timer); resolve(v); };
      var onState = function (s) { if (s === 'online') done(true); };
      var timer = setTimeout(function () { done(false); }, ms);
      self.on('state', onState);
    });
  };

  /** read returns a model's attributes (with id) or a collection's list; from the cache when offline. */
  Client.prototype.read = function (model, id) {
    var self = this;
    var wait = this.state === 'connecting' ? this.whenOnline(this.opts.readWait) : Promise.resolve();
    return wait.then(function () {
      if (self.state !== 'online') return self.cacheRead(model, id);
      // Reads go after the writes already queued, so a tab reads its
      // own writes.
      return self.drained().then(function () {
        return self.request('read', model, id === undefined ? [] : { id: id });
      }).then(function (res) {
        if (id === undefined) {
          if (Array.isArray(res)) self.cacheSave(model, res);
        } else {
          self.cachePut(model, res);
        }
        return res;
      }, function (e) {
        if (e.transient) return self.cacheRead(model, id);
        throw e;
      });
    });
  };

  /**
   * write queues a create/update/patch/delete/broadcast and resolves with
   * the server's reply, or at once with the local attributes when offline
   * (the write is then sent, in order, on reconnect).
   */
  Client.prototype.write = function (method, model, props, liveModel) {
    var item = { qid: newId(), method: method, model: model, props: props, at: Date.now() };
    this.queue.push(item);
    this.saveQueue();
    // Apply locally now so reads made offline see it.
    if (method === 'delete') this.cacheDelete(model, props.id);
    else if (method !== 'broadcast') this.cachePut(model, props);
    if (liveModel) this.models.set(item.qid, liveModel);
    this.trigger('pending', this.queue.length);
    var self = this;
    var p = new Promise(function (resolve, reject) { self.waiters.set(item.qid, { resolve: resolve, reject: reject }); });
    if (this.state === 'online') this.pump();
    else if (this.state === 'connecting') {
      // Right after load: give the first connection a moment before
      // answering from local state.
      this.whenOnline(this.opts.readWait).then(function (on) { if (!on) self.settleOffline(item); });
    } else this.settleOffline(item);
    return p;
  };

  Client.prototype.settleOffline = function (item) {
    var w = this.waiters.get(item.qid);
    if (!w) return;
    this.waiters.delete(item.qid);
    w.resolve(item.method === 'delete' || item.method === 'broadcast' ? {} : Object.assign({}, item.props));
  };

  // pump sends the queue in order, one write at a time, each removed only
  // when its reply came: a write whose transport dies unanswered is sent
  // again on reconnect.
  Client.prototype.pump = function () {
    var self = this;
    if (this.pumping || this.state !== 'online' || !this.tabReady) return;
    if (!this.queue.length) { this.fireDrained(); return; }
    this.pumping = true;
    var item = this.queue[0];
    var wasSent = item.sent;
    item.sent = true;
    this.saveQueue();
    this.request(item.method, item.model, item.props).then(function (res) {
      self.finish(item, null, res);
    }, function (err) {
      // The connection died or timed out, or the server is busy or
      // stopping: the write stays first in the queue and goes again, on
      // the next connection or after a pause.
      if (err.transient || err.code === 'unavailable' || err.code === 'rate_limited') {
        self.pumping = false;
        self.queue.forEach(function (q) { self.settleOffline(q); });
        clearTimeout(self.pumpTimer);
        self.pumpTimer = setTimeout(function () { self.pump(); }, jitter(self.opts.backoffMax));
        return;
      }
      // A create sent before the connection died may have landed: its
      // replay finds the id taken. That is the write landing once.
      if (wasSent && item.method === 'create' && err.code === 'conflict') { self.finish(item, null, item.props); return; }
      if (wasSent && item.method === 'delete' && err.code === 'not_found') { self.finish(item, null, {}); return; }
      self.finish(item, err);
    });
  };

  Client.prototype.finish = function (item, err, res) {
    this.pumping = false;
    var i = this.queue.indexOf(item);
    if (i >= 0) this.queue.splice(i, 1);
    this.saveQueue();
    var live = this.models.get(item.qid);
    this.models.delete(item.qid);
    var w = this.waiters.get(item.qid);
    this.waiters.delete(item.qid);
    if (err) {
      if (item.method === 'create') this.cacheDelete(item.model, item.props.id);
      if (w) w.reject(err);
      else if (live) live.trigger('error', live, err, {});
      this.trigger('error', err, item);
    } else {
      if (res && typeof res === 'object' && !Array.isArray(res) && res.id !== undefined && item.method !== 'delete') this.cachePut(item.model, res);
      // A broadcast's reply is its Seq, which this client is not pushed:
      // count it, so the next push does not look like a gap.
      if (item.method === 'broadcast' && typeof res === 'number' && this.lastSeq.get(item.model) === res - 1) this.lastSeq.set(item.model, res);
      if (w) w.resolve(res);
      else if (live && item.method !== 'delete' && item.method !== 'broadcast' && res && typeof res === 'object' && !Array.isArray(res)) live.set(live.parse(res, {}), {});
      this.trigger('sent', item, res);
    }
    this.trigger('pending', this.queue.length);
    this.pump();
  };

  Client.prototype.drained = function () {
    if (!this.queue.length) return Promise.resolve();
    var self = this;
    return new Promise(function (resolve) { (self.drainWaiters || (self.drainWaiters = [])).push(resolve); });
  };
  Client.prototype.fireDrained = function () {
    var ws = this.drainWaiters || [];
    this.drainWaiters = [];
    ws.forEach(function (f) { f(); });
    this.trigger('drained');
  };

  Client.prototype.subscribe = function (model, collection) {
    var set = this.subscriptions.get(model);
    var first = !set;
    if (!set) this.subscriptions.set(model, set = new Set());
    set.add(collection);
    if (!first || this.state !== 'online') return Promise.resolve();
    return this.request('subscribe', model, []).catch(function (e) { if (!e.transient) throw e; });
  };

  Client.prototype.unsubscribe = function (model, collection) {
    var set = this.subscriptions.get(model);
    if (!set) return Promise.resolve();
    set.delete(collection);
    if (set.size) return Promise.resolve();
    this.subscriptions.delete(model);
    if (this.state !== 'online') return Promise.resolve();
    return this.request('unsubscribe', model, []).catch(function (e) { if (!e.transient) throw e; });
  };

  /** upload PUTs a file as multipart (part "file") to apiRoot/model/id and resolves with the server's answer. */
  Client.prototype.upload = function (model, id, file, fileName) {
    var form = new FormData();
    if (fileName) form.append('file', file, fileName); else form.append('file', file);
    var url = absoluteURL(this.opts.apiRoot.replace(/\/$/, '') + '/' + encodeURIComponent(model) + '/' + encodeURIComponent(id)).href;
    return root.fetch(url, { method: 'PUT', body: form, credentials: 'same-origin' }).then(function (res) {
      return res.text().then(function (text) {
        var body;
        try { body = text ? JSON.parse(text) : {}; } catch (e) { body = { error: text }; }
        if (!res.ok) {
          var err = body && body.error;
          throw BertsyncError((err && err.code) || 'http_' + res.status, (err && err.message) || (typeof err === 'string' ? err : 'upload failed: HTTP ' + res.status));
        }
        return body;
      });
    }, function (e) { throw BertsyncError('unavailable', 'upload failed: ' + e.message); });
  };

  // ---------------------------------------------------------------------
  // 5. Backbone glue.
  // ---------------------------------------------------------------------

  function lastSegment(url) {
    if (!url) return null;
    var path = String(url).split('?')[0].replace(/\/+$/, '');
    var seg = path.slice(path.lastIndexOf('/') + 1);
    return seg ? decodeURIComponent(seg) : null;
  }

  function result(obj, prop) {
    var v = obj && obj[prop];
    return typeof v === 'function' ? v.call(obj) : v;
  }

  /**
   * modelName finds the model type for a Backbone model or collection:
   * its `name`; for a model, then its collection's `name`, its `urlRoot`'s
   * last segment, its collection's url's last segment; for a collection,
   * then its model class's `name` (prototype), its url's last segment.
   */
  function modelName(obj) {
    var n = result(obj, 'name');
    if (n) return String(n);
    if (obj && obj.models !== undefined) { // a collection
      var proto = obj.model && obj.model.prototype;
      if (proto && proto.name && typeof proto.name === 'string') return proto.name;
      if (proto && proto.urlRoot) { var s0 = lastSegment(result(proto, 'urlRoot')); if (s0) return s0; }
      var s = lastSegment(result(obj, 'url'));
      if (s) return s;
    } else if (obj) {
      if (obj.collection && obj.collection.name) return String(result(obj.collection, 'name'));
      var s1 = lastSegment(result(obj, 'urlRoot'));
      if (s1) return s1;
      if (obj.collection) { var s2 = lastSegment(result(obj.collection, 'url')); if (s2) return s2; }
    }
    throw new Error('bertsync: cannot tell the model type: set `name` (or urlRoot/url) on the model or collection');
  }

  var client = null;
  var Backbone = null;
  var Api = Object.assign({}, Events);

  function getClient() {
    if (!client) connect();
    return client;
  }

  /**
   * connect (re)starts the shared client with options (see DEFAULTS) and
   * returns it. Calling it again replaces the client; queued writes stay
   * in localStorage and go out through the new one.
   */
  function connect(options) {
    if (client) client.close();
    client = new Client(options);
    client.on('all', function () {
      var args = Array.prototype.slice.call(arguments);
      Api.trigger.apply(Api, args);
    });
    return client;
  }

  function sync(method, model, options) {
    options = options || {};
    var c = getClient();
    var name = modelName(model);
    var idAttr = model.idAttribute || 'id';
    var promise;
    var live = model.models === undefined ? model : null;
    switch (method) {
      case 'read':
        promise = c.read(name, live ? model.id : undefined);
        break;
      case 'create': {
        // The client names new models itself, so writes queued offline
        // can refer to a model before the server has seen it.
        var attrs = options.attrs || model.toJSON(options);
        if (attrs[idAttr] === undefined || attrs[idAttr] === null) {
          var id = newId();
          attrs = Object.assign({}, attrs);
          attrs[idAttr] = id;
          // Not silent: a collection indexes its models by id on change:id,
          // and the push of this very create must find the model.
          if (model.set) model.set(idAttr, id);
        }
        if (idAttr !== 'id') { attrs = Object.assign({ id: attrs[idAttr] }, attrs); }
        promise = c.write('create', name, attrs, live);
        break;
      }
      case 'update':
      case 'patch':
      case 'delete': {
        var props = method === 'delete' ? {} : Object.assign({}, options.attrs || model.toJSON(options));
        props.id = model.id;
        promise = c.write(method, name, props, live);
        break;
      }
      default:
        promise = Promise.reject(new Error('bertsync: unknown sync method ' + method));
    }
    if (options.broadcast && (method === 'create' || method === 'update' || method === 'patch')) {
      promise = promise.then(function (res) {
        var data = Object.assign({}, model.toJSON ? model.toJSON() : {}, res || {});
        return c.write('broadcast', name, data).then(function () { return res; });
      });
    }
    promise.then(function (res) {
      if (options.success) options.success(res);
    }, function (err) {
      if (options.error) options.error(err);
    });
    if (model.trigger) model.trigger('request', model, promise, options);
    return promise;
  }

  /**
   * install replaces Backbone.sync (keeping the original as
   * Backbone.ajaxSync) and adds Collection#subscribe/unsubscribe and
   * Model#upload/broadcast. It runs by itself when a global Backbone is
   * there as this script loads.
   */
  function install(bb) {
    bb = bb || root.Backbone;
    if (!bb) throw new Error('bertsync: Backbone is not loaded');
    if (bb.sync === sync) return bb;
    Backbone = bb;
    if (!bb.ajaxSync) bb.ajaxSync = bb.sync;
    bb.sync = sync;
    bb.Collection.prototype.subscribe = function (options) {
      var self = this;
      var name = modelName(this);
      options = options || {};
      var fetch = options.fetch === false ? Promise.resolve() : null;
      return getClient().subscribe(name, this).then(function () {
        return fetch || new Promise(function (resolve, reject) {
          self.fetch({ success: function () { resolve(self); }, error: function (c, e) { reject(e); } });
        });
      });
    };
    bb.Collection.prototype.unsubscribe = function () {
      return getClient().unsubscribe(modelName(this), this);
    };
    bb.Model.prototype.upload = function (options) {
      var self = this;
      options = options || {};
      if (this.id === undefined || this.id === null) return Promise.reject(new Error('bertsync: save the model before uploading'));
      var p = getClient().upload(modelName(this), this.id, options.file, options.fileName).then(function (res) {
        self.set({ file: res.file });
        self.trigger('sync', self, res, options);
        if (options.success) options.success(res);
        return res;
      }, function (err) {
        self.trigger('error', self, err, options);
        if (options.error) options.error(err);
        throw err;
      });
      return p;
    };
    bb.Model.prototype.broadcast = function (data) {
      var props = Object.assign({}, data || this.toJSON());
      if (this.id !== undefined) props.id = this.id;
      return getClient().write('broadcast', modelName(this), props);
    };
    return bb;
  }

  Object.assign(Api, {
    version: '0.1.0',
    connect: connect,
    install: install,
    sync: sync,
    client: function () { return getClient(); },
    reconnect: function () { getClient().reconnectNow(); },
    modelName: modelName,
    newId: newId,
    encode: encode,
    decode: decode,
    decodeAsync: decodeAsync,
    toJS: toJS,
    atom: function (name) { return new Atom(name); },
    tuple: function () { return new Tuple(Array.prototype.slice.call(arguments)); },
    Atom: Atom,
    Tuple: Tuple,
    BitBinary: BitBinary,
    bytesToBinaryString: bytesToBinaryString,
    binaryStringToBytes: binaryStringToBytes,
    Client: Client
  });
  Object.defineProperty(Api, 'state', { get: function () { return client ? client.state : 'offline'; }, enumerable: true });
  Object.defineProperty(Api, 'pending', { get: function () { return client ? client.pending : 0; }, enumerable: true });
  Object.defineProperty(Api, 'transport', { get: function () { return client && client.transport ? client.transport.name : null; }, enumerable: true });

  if (root.Backbone) install(root.Backbone);
  return Api;
}));
