/*! bertsync 0.2.0 (MIT): Backbone.sync over BERT, as a plain script setting the global `Bertsync`.
 * Built from client/src by client/build.mjs with esbuild: do not edit,
 * change client/src and run `npm run build` in client/. Documentation: docs/client.md. */
var Bertsync = (() => {
  var __defProp = Object.defineProperty;
  var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
  var __getOwnPropNames = Object.getOwnPropertyNames;
  var __hasOwnProp = Object.prototype.hasOwnProperty;
  var __export = (target, all) => {
    for (var name in all)
      __defProp(target, name, { get: all[name], enumerable: true });
  };
  var __copyProps = (to, from, except, desc) => {
    if (from && typeof from === "object" || typeof from === "function") {
      for (let key of __getOwnPropNames(from))
        if (!__hasOwnProp.call(to, key) && key !== except)
          __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
    }
    return to;
  };
  var __toCommonJS = (mod) => __copyProps(__defProp({}, "__esModule", { value: true }), mod);

  // src/script.js
  var script_exports = {};
  __export(script_exports, {
    default: () => script_default
  });

  // src/constants.js
  var VERSION = "0.2.0";
  var STATE = Object.freeze({
    connecting: "connecting",
    online: "online",
    offline: "offline"
  });
  var TRANSPORT = Object.freeze({
    websocket: "websocket",
    eventsource: "eventsource",
    longpoll: "longpoll"
  });
  var FRAMES = Object.freeze({
    // raw BERT bytes
    binary: "binary",
    // one character per byte, as BERT-JS and bullet.js send
    text: "text"
  });
  var DEFAULTS = Object.freeze({
    url: "/bullet",
    apiRoot: "/api",
    transports: Object.freeze([TRANSPORT.websocket, TRANSPORT.eventsource, TRANSPORT.longpoll]),
    frames: FRAMES.binary,
    // ms a transport gets to open
    openTimeout: 5e3,
    // ms before a request without a reply fails
    requestTimeout: 3e4,
    // ms a read or write right after connect() waits for the first connection before answering locally
    readWait: 3e3,
    // reconnect delay doubles from here ...
    backoffMin: 100,
    // ... up to here, each with BACKOFF_JITTER
    backoffMax: 5e3,
    // ms between WebSocket probes while on a fallback (0: never)
    probeInterval: 15e3,
    // ms between WebSocket pings (0: never)
    pingInterval: 2e4,
    // a Storage (undefined: localStorage; null: memory only)
    storage: void 0,
    // key prefix in the storage
    prefix: "bertsync:",
    // the token (a JWT, say) every connection presents; null: anonymous
    token: null,
    // () => Promise of a new token (or null: go on anonymous), called when the server refuses the token
    renewToken: null,
    // ms before a JWT's exp that renewToken is called ahead (0: only when refused)
    renewBefore: 3e4
  });
  var BACKOFF_JITTER = 0.5;
  var PING_TEXT = "ping";
  var PONG_TEXT = "pong";
  var PING_MISSES = 2.5;
  var RETIRE_TIMEOUT = 5e3;
  var AUTH_RENEW_TRIES = 3;
  var RENEW = Object.freeze({
    // the server refused the token: 401, or a WebSocket closed with 4401
    refused: "refused",
    // the token is a JWT whose exp is near (renewBefore)
    expiring: "expiring"
  });
  var TOKEN_PARAM = "token";
  var REDACTED = "[token]";
  var TIMER_MAX = 2147483647;
  var VERDICT = Object.freeze({
    // the next one (or the stream has no position yet): applied
    apply: "apply",
    // at or below the position: seen already, dropped
    duplicate: "duplicate",
    // beyond the next: applied, and the subscribers reload what they missed
    gap: "gap",
    // beyond the next while a resubscribe is unanswered: dropped, the reply decides
    held: "held"
  });
  var HEARTBEAT_INTERVAL = 5e3;
  var ORPHAN_AGE = 5 * 60 * 1e3;
  var KEY = Object.freeze({
    // + tab id: that tab's offline queue, a JSON array
    queue: "queue:",
    // + tab id: that tab's last heartbeat, ms since the epoch
    alive: "alive:",
    // + model (+ '/' + id): see cache.js
    cache: "cache:",
    // + tab id: the Web Lock a live tab holds
    tabLock: "tab:",
    // the Web Lock held while adopting orphaned queues
    adoptLock: "adopt",
    // written and removed once to see whether the storage works
    probe: "probe"
  });
  var SESSION_TAB_KEY = "bertsync:tab";
  var CACHE_FORMAT = 2;
  var ID_RANDOM_BYTES = 8;
  var CHANNEL_PARAM = "channel";
  var EVENTSOURCE_QUERY = "bertsync=1";
  var POLL_BUSTER = "_";
  var MAGIC = 131;
  var TAG = Object.freeze({
    NEW_FLOAT: 70,
    BIT_BINARY: 77,
    COMPRESSED: 80,
    SMALL_INTEGER: 97,
    INTEGER: 98,
    FLOAT: 99,
    ATOM: 100,
    SMALL_TUPLE: 104,
    LARGE_TUPLE: 105,
    NIL: 106,
    STRING: 107,
    LIST: 108,
    BINARY: 109,
    SMALL_BIG: 110,
    LARGE_BIG: 111,
    SMALL_ATOM: 115,
    MAP: 116,
    ATOM_UTF8: 118,
    SMALL_ATOM_UTF8: 119
  });
  var MAX_DEPTH = 512;
  var MAX_ATOM = 255;
  var SMALL_INTEGER_MAX = 255;
  var INTEGER_MIN = -2147483648;
  var INTEGER_MAX = 2147483647;
  var SMALL_BIG_MAX_DIGITS = 255;
  var SMALL_TUPLE_MAX = 255;
  var LATIN1_MAX = 255;
  var FLOAT_TEXT_SIZE = 31;
  var COMPRESSED_HEADER = 6;
  var STRING_CHUNK = 8192;
  var WRITER_INITIAL_SIZE = 256;
  var BERT = Object.freeze({
    tag: "bert",
    nil: "nil",
    true: "true",
    false: "false",
    dict: "dict",
    time: "time",
    regex: "regex"
  });
  var MEGA = 1e6;
  var MS_PER_SECOND = 1e3;
  var MICROS_PER_MS = 1e3;
  var REGEX_FLAGS = Object.freeze({ caseless: "i", multiline: "m", dotall: "s" });
  var SYNC = "sync";
  var METHOD = Object.freeze({
    create: "create",
    read: "read",
    update: "update",
    patch: "patch",
    delete: "delete",
    subscribe: "subscribe",
    unsubscribe: "unsubscribe",
    broadcast: "broadcast"
  });
  var PUSH = Object.freeze({
    created: "created",
    updated: "updated",
    deleted: "deleted",
    broadcast: "broadcast"
  });
  var STREAM = Object.freeze({
    seq: "seq",
    epoch: "epoch",
    since: "since",
    recovered: "recovered",
    filtered: "filtered"
  });
  var REPLY = Object.freeze({ ok: "ok", error: "error" });
  var CODE = Object.freeze({
    badRequest: "bad_request",
    notFound: "not_found",
    conflict: "conflict",
    tooLarge: "too_large",
    rateLimited: "rate_limited",
    unauthorized: "unauthorized",
    forbidden: "forbidden",
    unavailable: "unavailable",
    internal: "internal"
  });
  var UPLOAD_PART = "file";
  var MESSAGE_EXCERPT = 200;
  var HTTP_NO_CONTENT = 204;
  var HTTP_UNAUTHORIZED = 401;
  var HTTP_NOT_FOUND = 404;
  var HTTP_SERVER_ERROR = 500;
  var WS_OPEN = 1;
  var WS_CLOSE_UNAUTHORIZED = 4401;

  // src/ids.js
  var BASE = 36;
  function newId() {
    const rnd = new Uint8Array(ID_RANDOM_BYTES);
    const c = globalThis.crypto;
    if (c && typeof c.getRandomValues === "function") c.getRandomValues(rnd);
    else for (let i = 0; i < rnd.length; i++) rnd[i] = Math.floor(Math.random() * 256);
    let r = "";
    for (const b of rnd) r += (b % BASE).toString(BASE);
    return Date.now().toString(BASE) + r;
  }

  // src/backbone.js
  function lastSegment(url) {
    if (!url) return null;
    const path = String(url).split("?")[0].replace(/\/+$/, "");
    const seg = path.slice(path.lastIndexOf("/") + 1);
    return seg ? decodeURIComponent(seg) : null;
  }
  function result(obj, prop) {
    const v = obj && obj[prop];
    return typeof v === "function" ? v.call(obj) : v;
  }
  function isCollection(obj) {
    return Boolean(obj) && obj.models !== void 0;
  }
  function modelName(obj) {
    const n = result(obj, "name");
    if (n) return String(n);
    if (isCollection(obj)) {
      const proto = obj.model && obj.model.prototype;
      if (proto && proto.name && typeof proto.name === "string") return proto.name;
      if (proto && proto.urlRoot) {
        const s2 = lastSegment(result(proto, "urlRoot"));
        if (s2) return s2;
      }
      const s = lastSegment(result(obj, "url"));
      if (s) return s;
    } else if (obj) {
      if (obj.collection && obj.collection.name) return String(result(obj.collection, "name"));
      const s = lastSegment(result(obj, "urlRoot"));
      if (s) return s;
      if (obj.collection) {
        const s2 = lastSegment(result(obj.collection, "url"));
        if (s2) return s2;
      }
    }
    throw new Error("bertsync: cannot tell the model type: set `name` (or urlRoot/url) on the model or collection");
  }
  function applyPush(c, event, props, seq) {
    const id = props && props.id;
    switch (event) {
      case PUSH.created:
      case PUSH.updated: {
        const m = id !== void 0 ? c.get(id) : null;
        if (m) m.set(m.parse(props, { bertsyncPush: true }), { bertsyncPush: true });
        else c.add(props, { parse: true, merge: true, bertsyncPush: true });
        break;
      }
      case PUSH.deleted:
        if (id !== void 0) c.remove(id, { bertsyncPush: true });
        break;
      case PUSH.broadcast:
        if (id !== void 0 && c.get(id)) c.get(id).trigger("broadcast", props, seq);
        else c.trigger("broadcast", props, seq);
        break;
    }
    c.trigger("push", event, props, seq, c);
  }
  var subscribers = /* @__PURE__ */ new WeakMap();
  function subscriberOf(c) {
    let s = subscribers.get(c);
    if (!s) {
      s = {
        collection: c,
        push: (event, props, seq) => applyPush(c, event, props, seq),
        reload: () => c.fetch({ remove: true, bertsyncCatchUp: true }),
        // A subscription the server refused on a new connection: told as
        // Backbone tells a failed request, on the collection's error event.
        refused: (err) => c.trigger("error", c, err, { bertsyncSubscribe: true })
      };
      subscribers.set(c, s);
    }
    return s;
  }
  function lateFor(model, method) {
    return {
      landed(res) {
        if (method === METHOD.delete || res === null || typeof res !== "object" || Array.isArray(res)) return;
        model.set(model.parse(res, {}), {});
      },
      refused(err) {
        model.trigger("error", model, err, {});
      }
    };
  }
  function toGetter(client) {
    if (typeof client === "function") return client;
    if (!client) throw new Error("bertsync: install needs a client");
    return () => client;
  }
  function createSync(client) {
    const getClient = toGetter(client);
    return function sync(method, model, options) {
      options = options || {};
      const c = getClient();
      const name = modelName(model);
      const idAttr = model.idAttribute || "id";
      const live = isCollection(model) ? null : model;
      const late = live ? lateFor(live, method) : void 0;
      let promise;
      switch (method) {
        case METHOD.read:
          promise = c.read(name, live ? model.id : void 0);
          break;
        case METHOD.create: {
          let attrs = options.attrs || model.toJSON(options);
          if (attrs[idAttr] === void 0 || attrs[idAttr] === null) {
            const id = newId();
            attrs = Object.assign({}, attrs, { [idAttr]: id });
            if (model.set) model.set(idAttr, id);
          }
          if (idAttr !== "id") attrs = Object.assign({ id: attrs[idAttr] }, attrs);
          promise = c.write(METHOD.create, name, attrs, late);
          break;
        }
        case METHOD.update:
        case METHOD.patch:
        case METHOD.delete: {
          const props = method === METHOD.delete ? {} : Object.assign({}, options.attrs || model.toJSON(options));
          props.id = model.id;
          promise = c.write(method, name, props, late);
          break;
        }
        default:
          promise = Promise.reject(new Error("bertsync: unknown sync method " + method));
      }
      if (options.broadcast && (method === METHOD.create || method === METHOD.update || method === METHOD.patch)) {
        promise = promise.then((res) => {
          const data = Object.assign({}, model.toJSON ? model.toJSON() : {}, res || {});
          return c.write(METHOD.broadcast, name, data).then(() => res);
        });
      }
      promise.then(
        (res) => {
          if (options.success) options.success(res);
        },
        (err) => {
          if (options.error) options.error(err);
        }
      );
      if (model.trigger) model.trigger("request", model, promise, options);
      return promise;
    };
  }
  function install(Backbone, client, sync) {
    if (!Backbone) throw new Error("bertsync: Backbone is not loaded");
    const getClient = toGetter(client);
    sync = sync || createSync(getClient);
    if (Backbone.sync === sync) return Backbone;
    if (!Backbone.ajaxSync) Backbone.ajaxSync = Backbone.sync;
    Backbone.sync = sync;
    Backbone.Collection.prototype.subscribe = function(options) {
      options = options || {};
      return getClient().subscribe(modelName(this), subscriberOf(this)).then(() => {
        if (options.fetch === false) return void 0;
        return new Promise((resolve, reject) => {
          this.fetch({ success: () => resolve(this), error: (c, e) => reject(e) });
        });
      });
    };
    Backbone.Collection.prototype.unsubscribe = function() {
      return getClient().unsubscribe(modelName(this), subscriberOf(this));
    };
    Backbone.Model.prototype.upload = function(options) {
      options = options || {};
      if (this.id === void 0 || this.id === null) return Promise.reject(new Error("bertsync: save the model before uploading"));
      return getClient().upload(modelName(this), this.id, options.file, options.fileName).then(
        (res) => {
          this.set({ file: res.file });
          this.trigger("sync", this, res, options);
          if (options.success) options.success(res);
          return res;
        },
        (err) => {
          this.trigger("error", this, err, options);
          if (options.error) options.error(err);
          throw err;
        }
      );
    };
    Backbone.Model.prototype.broadcast = function(data) {
      const props = Object.assign({}, data || this.toJSON());
      if (this.id !== void 0) props.id = this.id;
      return getClient().write(METHOD.broadcast, modelName(this), props);
    };
    return Backbone;
  }

  // src/terms.js
  var Atom = class {
    constructor(name) {
      this.name = String(name);
    }
    toString() {
      return this.name;
    }
    toJSON() {
      return this.name;
    }
  };
  var Tuple = class {
    constructor(items) {
      this.items = items || [];
    }
    get length() {
      return this.items.length;
    }
    toJSON() {
      return this.items;
    }
  };
  var BitBinary = class {
    constructor(data, bits) {
      this.data = data;
      this.bits = bits;
    }
  };
  function atom(name) {
    return new Atom(name);
  }
  function tuple(...items) {
    return new Tuple(items);
  }
  var CodecError = class extends Error {
    constructor(message, offset) {
      super("bert: " + message + (offset !== void 0 ? " at offset " + offset : ""));
      this.name = "CodecError";
      this.offset = offset;
    }
  };
  function isPlainObject(v) {
    if (v === null || typeof v !== "object") return false;
    const p = Object.getPrototypeOf(v);
    return p === Object.prototype || p === null;
  }

  // src/binstring.js
  function bytesToBinaryString(bytes) {
    let s = "";
    for (let i = 0; i < bytes.length; i += STRING_CHUNK) {
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + STRING_CHUNK));
    }
    return s;
  }
  function binaryStringToBytes(s) {
    const b = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > LATIN1_MAX) throw new CodecError("character U+" + c.toString(16) + " above U+00FF in a binary string", i);
      b[i] = c;
    }
    return b;
  }

  // src/storage.js
  function memoryStorage() {
    const m = /* @__PURE__ */ new Map();
    return {
      getItem: (k) => m.has(k) ? m.get(k) : null,
      setItem: (k, v) => {
        m.set(k, String(v));
      },
      removeItem: (k) => {
        m.delete(k);
      },
      key: (i) => Array.from(m.keys())[i] ?? null,
      get length() {
        return m.size;
      }
    };
  }
  function resolveStorage(option, prefix) {
    if (option === null) return memoryStorage();
    if (option !== void 0) return option;
    try {
      const s = globalThis.localStorage;
      s.setItem(prefix + KEY.probe, "1");
      s.removeItem(prefix + KEY.probe);
      return s;
    } catch {
      return memoryStorage();
    }
  }
  function keysWithPrefix(storage, prefix) {
    const keys = [];
    for (let i = 0; i < storage.length; i++) {
      const k = storage.key(i);
      if (k !== null && k.startsWith(prefix)) keys.push(k);
    }
    return keys;
  }

  // src/cache.js
  function parse(text) {
    if (text === null) return null;
    try {
      return JSON.parse(text);
    } catch {
      return null;
    }
  }
  var DocumentCache = class {
    constructor(storage, prefix) {
      this.storage = storage;
      this.prefix = prefix;
      this.checked = /* @__PURE__ */ new Set();
    }
    indexKey(model) {
      return this.prefix + KEY.cache + encodeURIComponent(model);
    }
    docKey(model, id) {
      return this.indexKey(model) + "/" + encodeURIComponent(String(id));
    }
    index(model) {
      this.upgrade(model);
      const meta = parse(this.storage.getItem(this.indexKey(model)));
      return meta && meta.v === CACHE_FORMAT ? meta : null;
    }
    // upgrade rewrites a model's cache kept by client 0.1 (one entry holding
    // the whole list) in this layout, once per model and client.
    upgrade(model) {
      if (this.checked.has(model)) return;
      this.checked.add(model);
      const old = parse(this.storage.getItem(this.indexKey(model)));
      if (Array.isArray(old)) this.save(model, old);
    }
    write(key, value) {
      try {
        this.storage.setItem(key, JSON.stringify(value));
        return true;
      } catch {
        try {
          this.storage.removeItem(key);
        } catch {
        }
        return false;
      }
    }
    /** has tells whether the model's collection was read (or a document of it stored). */
    has(model) {
      return this.index(model) !== null;
    }
    /** get returns a copy of a document's attributes, or null. */
    get(model, id) {
      this.upgrade(model);
      const entry = parse(this.storage.getItem(this.docKey(model, id)));
      return entry && entry.a ? Object.assign({}, entry.a) : null;
    }
    /**
     * list returns a model's documents in collection order, or null when its
     * collection was never read.
     */
    list(model) {
      if (!this.index(model)) return null;
      const entries = [];
      for (const k of keysWithPrefix(this.storage, this.indexKey(model) + "/")) {
        const entry = parse(this.storage.getItem(k));
        if (entry && entry.a) entries.push(entry);
      }
      entries.sort((x, y) => x.o - y.o);
      return entries.map((e) => e.a);
    }
    /**
     * put merges attrs (which must have an id) into the document's entry,
     * or adds the document after the others.
     */
    put(model, attrs) {
      if (!attrs || attrs.id === void 0 || attrs.id === null) return;
      this.upgrade(model);
      const key = this.docKey(model, attrs.id);
      const old = parse(this.storage.getItem(key));
      if (old && old.a) {
        this.write(key, { o: old.o, a: Object.assign({}, old.a, attrs) });
        return;
      }
      const meta = this.index(model) || { v: CACHE_FORMAT, next: 0 };
      const order = meta.next;
      meta.next = order + 1;
      if (this.write(key, { o: order, a: attrs })) this.write(this.indexKey(model), meta);
    }
    /** delete forgets one document. */
    delete(model, id) {
      if (id === void 0 || id === null) return;
      this.upgrade(model);
      const key = this.docKey(model, id);
      if (this.storage.getItem(key) === null) return;
      try {
        this.storage.removeItem(key);
      } catch {
      }
    }
    /** save replaces the model's documents by list, a collection read's answer, in its order. */
    save(model, list) {
      this.checked.add(model);
      for (const k of keysWithPrefix(this.storage, this.indexKey(model) + "/")) this.storage.removeItem(k);
      let n = 0;
      for (const attrs of list) {
        if (attrs && attrs.id !== void 0 && attrs.id !== null && this.write(this.docKey(model, attrs.id), { o: n, a: attrs })) n++;
      }
      this.write(this.indexKey(model), { v: CACHE_FORMAT, next: n });
    }
  };

  // src/decode.js
  var utf8Strict = new TextDecoder("utf-8", { fatal: true });
  var Reader = class {
    constructor(bytes) {
      this.b = bytes;
      this.i = 0;
      this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    need(n) {
      if (this.i + n > this.b.length) throw new CodecError("unexpected end of data", this.i);
    }
    // count reads a 32-bit element count, which must not exceed the bytes
    // left (each element takes one at least): a length bomb fails here,
    // before anything is allocated.
    count(what, at) {
      const n = this.u32();
      if (n > this.b.length - this.i) throw new CodecError(what + " " + n + " exceeds the data", at);
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
  };
  function utf8Atom(bytes, at) {
    try {
      return utf8Strict.decode(bytes);
    } catch {
      throw new CodecError("invalid UTF-8 in atom", at);
    }
  }
  function readBig(r, n) {
    const sign = r.u8();
    const digits = r.take(n);
    let v = 0n;
    for (let i = digits.length - 1; i >= 0; i--) v = v << 8n | BigInt(digits[i]);
    if (sign) v = -v;
    if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
    return v;
  }
  function readFloatText(r, at) {
    const s = bytesToBinaryString(r.take(FLOAT_TEXT_SIZE)).replace(/\0+$/, "");
    const f = parseFloat(s);
    if (Number.isNaN(f)) throw new CodecError("bad FLOAT_EXT text " + JSON.stringify(s), at);
    return f;
  }
  function keyText(k) {
    if (k instanceof Atom) return k.name;
    if (typeof k === "string") return k;
    if (typeof k === "number" || typeof k === "bigint") return String(k);
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
    let flags = "";
    for (const o of Array.isArray(options) ? options : []) {
      if (o instanceof Atom && Object.prototype.hasOwnProperty.call(REGEX_FLAGS, o.name)) flags += REGEX_FLAGS[o.name];
    }
    return flags;
  }
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
          if (items.length === 4 && typeof items[2] === "string") {
            try {
              return new RegExp(items[2], regexFlags(items[3]));
            } catch {
            }
          }
          break;
      }
    }
    return new Tuple(items);
  }
  function readMap(r, depth, at) {
    const n = r.count("map size", at);
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
    if (depth > MAX_DEPTH) throw new CodecError("term nested deeper than " + MAX_DEPTH, r.i);
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
        if (n > r.b.length - r.i) throw new CodecError("tuple arity " + n + " exceeds the data", at);
        return bertTuple(readItems(r, n, depth));
      }
      case TAG.LARGE_TUPLE:
        return bertTuple(readItems(r, r.count("tuple arity", at), depth));
      case TAG.NIL:
        return [];
      case TAG.STRING:
        return bytesToBinaryString(r.take(r.u16()));
      case TAG.LIST: {
        const items = readItems(r, r.count("list length", at), depth);
        const tail = readTerm(r, depth + 1);
        if (!(Array.isArray(tail) && tail.length === 0)) items.tail = tail;
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
        throw new CodecError("compressed term: use decodeAsync", at);
      default:
        throw new CodecError("unsupported tag " + tag, at);
    }
  }
  function decode(bytes) {
    if (!(bytes instanceof Uint8Array)) bytes = new Uint8Array(bytes);
    const r = new Reader(bytes);
    if (r.u8() !== MAGIC) throw new CodecError("missing magic byte " + MAGIC, 0);
    const v = readTerm(r, 0);
    if (r.i !== bytes.length) throw new CodecError(bytes.length - r.i + " bytes after the term", r.i);
    return v;
  }
  async function decodeAsync(bytes) {
    if (!(bytes instanceof Uint8Array)) bytes = new Uint8Array(bytes);
    if (bytes.length < 2 || bytes[0] !== MAGIC || bytes[1] !== TAG.COMPRESSED) return decode(bytes);
    if (typeof DecompressionStream === "undefined") {
      throw new CodecError("compressed term and this browser has no DecompressionStream", 1);
    }
    if (bytes.length < COMPRESSED_HEADER) throw new CodecError("unexpected end of data", bytes.length);
    const size = new DataView(bytes.buffer, bytes.byteOffset).getUint32(2);
    let buf;
    try {
      const stream = new Blob([bytes.subarray(COMPRESSED_HEADER)]).stream().pipeThrough(new DecompressionStream("deflate"));
      buf = await new Response(stream).arrayBuffer();
    } catch (e) {
      throw new CodecError("bad compressed data: " + e.message, COMPRESSED_HEADER);
    }
    if (buf.byteLength !== size) throw new CodecError("compressed term holds " + buf.byteLength + " bytes, header says " + size, 2);
    const whole = new Uint8Array(buf.byteLength + 1);
    whole[0] = MAGIC;
    whole.set(new Uint8Array(buf), 1);
    return decode(whole);
  }
  function isProplist(list) {
    for (const p of list) {
      if (!(p instanceof Tuple) || p.items.length !== 2) return false;
      const k = p.items[0];
      if (!(k instanceof Atom) && typeof k !== "string") return false;
    }
    return true;
  }
  function toJS(t) {
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
      const m = /* @__PURE__ */ new Map();
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

  // src/errors.js
  var BertsyncError = class extends Error {
    constructor(code, message) {
      super(message);
      this.name = "BertsyncError";
      this.code = code;
    }
  };
  var TransportError = class extends Error {
    constructor(message) {
      super(message);
      this.name = "TransportError";
      this.code = CODE.unavailable;
      this.transient = true;
    }
  };
  var AuthError = class extends TransportError {
    constructor(message) {
      super(message);
      this.name = "AuthError";
      this.code = CODE.unauthorized;
    }
  };
  function isAuthError(err) {
    return Boolean(err && err.transient && err.code === CODE.unauthorized);
  }
  function isRetryable(err) {
    return Boolean(err && (err.transient || err.code === CODE.unavailable || err.code === CODE.rateLimited));
  }

  // src/events.js
  var Emitter = class {
    /** on registers fn(...args) for event name, called with this = ctx (default: the emitter). */
    on(name, fn, ctx) {
      const handlers = this._handlers || (this._handlers = /* @__PURE__ */ new Map());
      if (!handlers.has(name)) handlers.set(name, []);
      handlers.get(name).push({ fn, ctx });
      return this;
    }
    /** off removes fn from name; without fn every handler of name; without name every handler. */
    off(name, fn) {
      const handlers = this._handlers;
      if (!handlers) return this;
      if (!name) handlers.clear();
      else if (!fn) handlers.delete(name);
      else if (handlers.has(name)) handlers.set(name, handlers.get(name).filter((h) => h.fn !== fn && h.fn.original !== fn));
      return this;
    }
    /** once is on for one call. */
    once(name, fn, ctx) {
      const wrap = (...args) => {
        this.off(name, wrap);
        return fn.apply(ctx || this, args);
      };
      wrap.original = fn;
      return this.on(name, wrap, ctx);
    }
    /**
     * trigger calls name's handlers with args, then the "all" handlers with
     * name and args. A handler that throws does not stop the others: its
     * error is rethrown outside, where the page's error handling sees it.
     */
    trigger(name, ...args) {
      const handlers = this._handlers;
      if (!handlers) return this;
      for (const h of (handlers.get(name) || []).slice()) safeCall(h.fn, h.ctx || this, args);
      if (name !== "all") for (const h of (handlers.get("all") || []).slice()) safeCall(h.fn, h.ctx || this, [name, ...args]);
      return this;
    }
  };
  function safeCall(fn, ctx, args) {
    try {
      fn.apply(ctx, args);
    } catch (e) {
      setTimeout(() => {
        throw e;
      });
    }
  }

  // src/jwt.js
  var BASE64_BLOCK = 4;
  function jwtClaims(token) {
    if (typeof token !== "string") return null;
    const parts = token.split(".");
    if (parts.length !== 3 || !parts[1]) return null;
    try {
      let b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
      while (b64.length % BASE64_BLOCK) b64 += "=";
      const json = new TextDecoder("utf-8", { fatal: true }).decode(binaryStringToBytes(globalThis.atob(b64)));
      const claims = JSON.parse(json);
      return claims !== null && typeof claims === "object" && !Array.isArray(claims) ? claims : null;
    } catch {
      return null;
    }
  }
  function jwtExpiry(token) {
    const claims = jwtClaims(token);
    if (!claims || typeof claims.exp !== "number" || !Number.isFinite(claims.exp)) return null;
    return claims.exp * MS_PER_SECOND;
  }
  function renewDelay(token, now, before) {
    const exp = jwtExpiry(token);
    if (exp === null || exp <= now) return null;
    const left = exp - now;
    return Math.max(0, left - Math.min(before, left / 2));
  }

  // src/encode.js
  var utf8Encoder = new TextEncoder();
  var Writer = class {
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
      this.buf[this.len++] = v & 255;
    }
    u32(v) {
      this.grow(4);
      this.buf[this.len++] = v >>> 24 & 255;
      this.buf[this.len++] = v >>> 16 & 255;
      this.buf[this.len++] = v >>> 8 & 255;
      this.buf[this.len++] = v & 255;
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
  };
  function writeAtom(w, name) {
    let latin = true;
    for (let i = 0; i < name.length; i++) {
      if (name.charCodeAt(i) > LATIN1_MAX) {
        latin = false;
        break;
      }
    }
    if (latin) {
      if (name.length > MAX_ATOM) throw new CodecError("atom longer than " + MAX_ATOM + " characters");
      w.u8(TAG.ATOM);
      w.u16(name.length);
      w.grow(name.length);
      for (let j = 0; j < name.length; j++) w.buf[w.len++] = name.charCodeAt(j);
      return;
    }
    const b = utf8Encoder.encode(name);
    if (b.length > MAX_ATOM) throw new CodecError("atom longer than " + MAX_ATOM + " bytes");
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
    if (!Number.isFinite(n)) throw new CodecError("cannot encode " + n + " (Erlang has no NaN or infinity)");
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
  function writeKey(w, k) {
    if (k.length <= MAX_ATOM) {
      writeAtom(w, k);
      return;
    }
    writeBinary(w, utf8Encoder.encode(k));
  }
  function writeObject(w, obj, depth) {
    const keys = Object.keys(obj).filter((k) => obj[k] !== void 0 && typeof obj[k] !== "function");
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
    if (depth > MAX_DEPTH) throw new CodecError("term nested deeper than " + MAX_DEPTH);
    if (v === null || v === void 0) {
      writeBertTuple(w, BERT.nil);
      return;
    }
    switch (typeof v) {
      case "string":
        writeBinary(w, utf8Encoder.encode(v));
        return;
      case "number":
        writeNumber(w, v);
        return;
      case "bigint":
        if (v >= BigInt(INTEGER_MIN) && v <= BigInt(INTEGER_MAX)) writeNumber(w, Number(v));
        else writeBigInt(w, v);
        return;
      case "boolean":
        writeBertTuple(w, v ? BERT.true : BERT.false);
        return;
      case "object":
        break;
      default:
        throw new CodecError("cannot encode a value of type " + typeof v);
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
    } else if (typeof v.toJSON === "function" && !isPlainObject(v)) {
      writeTerm(w, v.toJSON(), depth + 1);
    } else {
      writeObject(w, v, depth);
    }
  }
  function encode(value) {
    const w = new Writer();
    w.u8(MAGIC);
    writeTerm(w, value, 0);
    return w.result();
  }

  // src/protocol.js
  var PUSH_EVENTS = new Set(Object.values(PUSH));
  function encodeRequest(method, model, props, ref) {
    return encode(new Tuple([new Atom(SYNC), new Atom(method), new Atom(model), props, ref]));
  }
  function replyError(reason) {
    if (reason instanceof Tuple && reason.items.length === 2) {
      return new BertsyncError(toJS(reason.items[0]), String(toJS(reason.items[1])));
    }
    return new BertsyncError(CODE.internal, String(toJS(reason)));
  }
  function parseMessage(term) {
    if (!(term instanceof Tuple) || !(term.items[0] instanceof Atom) || term.items[0].name !== SYNC) return { kind: "unknown" };
    const it = term.items;
    const kind = it[1] instanceof Atom ? it[1].name : "";
    if ((kind === REPLY.ok || kind === REPLY.error) && (it.length === 3 || it.length === 4)) {
      const ref = it.length === 4 ? it[3] : void 0;
      if (kind === REPLY.ok) return { kind: "reply", ref, value: toJS(it[2]) };
      return { kind: "reply", ref, error: replyError(it[2]) };
    }
    if (it.length === 5 && PUSH_EVENTS.has(kind)) {
      const model = it[2] instanceof Atom ? it[2].name : String(it[2]);
      return { kind: "push", event: kind, model, props: toJS(it[3]), seq: it[4] };
    }
    return { kind: "unknown" };
  }

  // src/queue.js
  function defaultSession() {
    try {
      return globalThis.sessionStorage || null;
    } catch {
      return null;
    }
  }
  function defaultLocks() {
    const locks = globalThis.navigator && globalThis.navigator.locks;
    return locks && typeof locks.request === "function" ? locks : null;
  }
  var OfflineQueue = class extends Emitter {
    constructor({ storage, prefix, session = defaultSession(), locks = defaultLocks(), now = Date.now }) {
      super();
      this.storage = storage;
      this.prefix = prefix;
      this.session = session;
      this.locks = locks;
      this.now = now;
      this.ready = false;
      this.opening = null;
      this.heartbeat = null;
      this.releaseTab = null;
      this.tab = this.tabId();
      this.items = this.load(this.tab);
      this.loaded = new Set(this.items.map((q) => q.qid));
    }
    get length() {
      return this.items.length;
    }
    key(s) {
      return this.prefix + s;
    }
    // tabId returns this tab's id from sessionStorage, made on first use.
    tabId() {
      let id = null;
      try {
        id = this.session && this.session.getItem(SESSION_TAB_KEY);
      } catch {
      }
      if (!id) {
        id = newId();
        this.rememberTab(id);
      }
      return id;
    }
    rememberTab(id) {
      try {
        if (this.session) this.session.setItem(SESSION_TAB_KEY, id);
      } catch {
      }
    }
    load(tab) {
      try {
        const items = JSON.parse(this.storage.getItem(this.key(KEY.queue + tab)) || "[]");
        return Array.isArray(items) ? items : [];
      } catch {
        return [];
      }
    }
    /** unstored lists the items the storage does not hold: those pushed before the queue was ready. */
    unstored() {
      return this.ready ? [] : this.items.filter((q) => !this.loaded.has(q.qid));
    }
    /** first returns the oldest item, or undefined. */
    first() {
      return this.items[0];
    }
    /**
     * pendingFor lists the queued writes (broadcasts aside) of the document
     * id of model, oldest first: what the server has not answered yet.
     */
    pendingFor(model, id) {
      if (id === void 0 || id === null) return [];
      const key = String(id);
      return this.items.filter((q) => q.model === model && q.method !== METHOD.broadcast && q.props && String(q.props.id) === key);
    }
    /** push adds an item at the end and stores the queue. */
    push(item) {
      this.items.push(item);
      this.save();
    }
    /** remove takes item out and stores the queue; it tells whether item was there. */
    remove(item) {
      const i = this.items.indexOf(item);
      if (i < 0) return false;
      this.items.splice(i, 1);
      this.save();
      return true;
    }
    /** save stores the queue (once it owns the tab's). */
    save() {
      if (!this.ready) return;
      const key = this.key(KEY.queue + this.tab);
      try {
        if (this.items.length) this.storage.setItem(key, JSON.stringify(this.items));
        else this.storage.removeItem(key);
      } catch (e) {
        this.trigger("error", new BertsyncError(CODE.tooLarge, "offline queue does not fit in the storage: " + e.message));
      }
    }
    beat() {
      try {
        this.storage.setItem(this.key(KEY.alive + this.tab), String(this.now()));
      } catch {
      }
    }
    /**
     * open claims the tab's queue, stores what was pushed meanwhile, starts
     * the heartbeat and adopts orphaned queues. It returns a Promise that
     * resolves once the queue is ready; calling it again returns the same.
     */
    open() {
      if (this.opening) return this.opening;
      this.opening = this.claim().then(() => {
        if (!this.opening) return void 0;
        this.ready = true;
        this.save();
        this.beat();
        this.heartbeat = setInterval(() => {
          this.beat();
          this.adoptOrphans();
        }, HEARTBEAT_INTERVAL);
        return this.adoptOrphans();
      });
      return this.opening;
    }
    /** close stops the heartbeat and lets go of the tab's queue, which stays stored. */
    close() {
      this.opening = null;
      this.ready = false;
      clearInterval(this.heartbeat);
      this.heartbeat = null;
      if (this.releaseTab) this.releaseTab();
      this.releaseTab = null;
    }
    // claim takes the Web Lock named after the tab's id for as long as the
    // queue is open. When another live tab holds it (a duplicated tab), this
    // one takes a new id and leaves that tab's items to it.
    claim() {
      const locks = this.locks;
      if (!locks) return Promise.resolve();
      const loaded = this.loaded;
      return new Promise((resolve) => {
        const attempt = () => {
          locks.request(this.key(KEY.tabLock + this.tab), { ifAvailable: true }, (lock) => {
            if (!lock) {
              this.tab = newId();
              this.rememberTab(this.tab);
              this.items = this.items.filter((q) => !loaded.has(q.qid));
              attempt();
              return void 0;
            }
            resolve();
            return new Promise((release) => {
              this.releaseTab = release;
            });
          }).catch(() => resolve());
        };
        attempt();
      });
    }
    otherTabs() {
      const prefix = this.key(KEY.queue);
      const own = prefix + this.tab;
      return keysWithPrefix(this.storage, prefix).filter((k) => k !== own).map((k) => k.slice(prefix.length));
    }
    // take appends the queues of tabs to this one, after its own items.
    take(tabs) {
      let n = 0;
      for (const tab of tabs) {
        const items = this.load(tab);
        try {
          this.storage.removeItem(this.key(KEY.queue + tab));
          this.storage.removeItem(this.key(KEY.alive + tab));
        } catch {
          continue;
        }
        this.items = this.items.concat(items);
        n += items.length;
      }
      if (!n) return;
      this.save();
      this.trigger("adopted", n);
    }
    /**
     * adoptOrphans takes over the queues of tabs that closed before their
     * writes were sent, so that no write is lost when a tab closes offline.
     */
    adoptOrphans() {
      if (!this.ready || !this.otherTabs().length) return Promise.resolve();
      const locks = this.locks;
      if (!locks) {
        const now = this.now();
        this.take(this.otherTabs().filter((t) => now - (Number(this.storage.getItem(this.key(KEY.alive + t))) || 0) > ORPHAN_AGE));
        return Promise.resolve();
      }
      return locks.request(
        this.key(KEY.adoptLock),
        () => locks.query().then((st) => {
          if (!this.ready) return;
          const held = new Set((st.held || []).map((l) => l.name));
          this.take(this.otherTabs().filter((t) => !held.has(this.key(KEY.tabLock + t))));
        })
      ).catch((e) => this.trigger("error", e));
    }
  };

  // src/streams.js
  function parseSubscribeReply(msg) {
    if (typeof msg === "number") return { seq: msg, epoch: void 0, recovered: false, filtered: false };
    if (msg === null || typeof msg !== "object" || Array.isArray(msg)) return { seq: void 0, epoch: void 0, recovered: false, filtered: false };
    const seq = typeof msg[STREAM.seq] === "number" ? msg[STREAM.seq] : void 0;
    const yes = (v) => v === true || v === "true";
    return { seq, epoch: msg[STREAM.epoch], recovered: yes(msg[STREAM.recovered]), filtered: yes(msg[STREAM.filtered]) };
  }
  function sameEpoch(a, b) {
    if (a === void 0 || b === void 0 || a === null || b === null) return false;
    if (typeof a === "string" && typeof b === "string") return a === b;
    const x = epochBytes(a);
    const y = epochBytes(b);
    if (!x || !y || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  function epochBytes(e) {
    if (typeof e === "string") return new TextEncoder().encode(e);
    if (e instanceof Uint8Array) return e;
    return null;
  }
  function resumeProps(position) {
    if (!position || typeof position.seq !== "number" || position.epoch === void 0 || position.epoch === null) return [];
    return { [STREAM.since]: position.seq, [STREAM.epoch]: position.epoch };
  }
  function isRecovered(asked, reply) {
    if (!asked || typeof asked.seq !== "number" || !reply.recovered) return false;
    if (!sameEpoch(asked.epoch, reply.epoch)) return false;
    return typeof reply.seq === "number" && reply.seq >= asked.seq;
  }
  function verdict(last, seq, resuming, filtered) {
    if (typeof seq !== "number" || typeof last !== "number") return VERDICT.apply;
    if (seq <= last) return VERDICT.duplicate;
    if (seq === last + 1 || filtered) return VERDICT.apply;
    return resuming ? VERDICT.held : VERDICT.gap;
  }
  function overlayPending(event, props, pending) {
    if (!pending || !pending.length || event === PUSH.deleted || event === PUSH.broadcast) return props;
    let out = Object.assign({}, props);
    for (const item of pending) {
      if (item.method === METHOD.delete) out = null;
      else if (item.method !== METHOD.broadcast) out = Object.assign(out || {}, item.props);
    }
    return out;
  }

  // src/subscriptions.js
  function newStream() {
    return {
      subscribers: /* @__PURE__ */ new Set(),
      seq: void 0,
      epoch: void 0,
      fresh: false,
      asked: null,
      held: 0,
      filtered: false,
      refused: null,
      reloading: null,
      reloadAgain: false
    };
  }
  var Subscriptions = class {
    constructor() {
      this.streams = /* @__PURE__ */ new Map();
    }
    /** has tells whether anyone subscribed to model. */
    has(model) {
      return this.streams.has(model);
    }
    /** get returns the stream of model, or undefined. */
    get(model) {
      return this.streams.get(model);
    }
    get size() {
      return this.streams.size;
    }
    /** models lists the subscribed model types. */
    models() {
      return Array.from(this.streams.keys());
    }
    /** subscribers lists model's subscribers (none when it has no stream). */
    subscribers(model) {
      const s = this.streams.get(model);
      return s ? Array.from(s.subscribers) : [];
    }
    /** all lists every subscriber of every model. */
    all() {
      const out = [];
      for (const s of this.streams.values()) out.push(...s.subscribers);
      return out;
    }
    /** position returns model's stream position, {seq, epoch}, or undefined without a stream. */
    position(model) {
      const s = this.streams.get(model);
      return s ? { seq: s.seq, epoch: s.epoch } : void 0;
    }
    /** add adds a subscriber; it tells whether it is model's first (so the server must be told). */
    add(model, subscriber) {
      let s = this.streams.get(model);
      const first = !s;
      if (!s) {
        s = newStream();
        this.streams.set(model, s);
      }
      s.subscribers.add(subscriber);
      return first;
    }
    /** remove removes a subscriber; it tells whether it was model's last (so the server must be told). */
    remove(model, subscriber) {
      const s = this.streams.get(model);
      if (!s) return false;
      s.subscribers.delete(subscriber);
      if (s.subscribers.size) return false;
      this.streams.delete(model);
      return true;
    }
    /**
     * adopt takes over the subscribers and positions of other (the
     * Subscriptions of a client this one replaces), so that this one's
     * first connection resumes where that one stopped.
     */
    adopt(other) {
      for (const [model, o] of other.streams) {
        for (const sub of o.subscribers) this.add(model, sub);
        const s = this.streams.get(model);
        if (s.seq === void 0) {
          s.seq = o.seq;
          s.epoch = o.epoch;
          s.fresh = true;
        }
      }
    }
    /**
     * resume returns the Props of the subscribe that renews model's
     * subscription on a new connection, [{since, S}, {epoch, E}] or []
     * (streams.js resumeProps), and notes that a resubscribe is in flight:
     * until its reply, a push beyond the next is held back (see verdict).
     */
    resume(model) {
      const s = this.streams.get(model);
      if (!s) return [];
      s.asked = { seq: s.seq, epoch: s.epoch };
      s.held = 0;
      return resumeProps(s.asked);
    }
    /**
     * abandon notes that model's resubscribe failed (its connection went):
     * the next connection asks again.
     */
    abandon(model) {
      const s = this.streams.get(model);
      if (s) s.asked = null;
    }
    /**
     * subscribed applies the Msg of a subscribe reply to model's stream and
     * returns {seq, epoch, recovered}: recovered is true when the reply
     * resumed the position a resubscribe asked from (the missed pushes
     * follow as ordinary pushes, in order) and no push the client dropped
     * meanwhile lies beyond what they bring. Otherwise the stream takes the
     * reply's position, from where the subscribers reload.
     */
    subscribed(model, msg) {
      const reply = parseSubscribeReply(msg);
      const s = this.streams.get(model);
      if (!s) return { seq: reply.seq, epoch: reply.epoch, recovered: false };
      const asked = s.asked;
      s.asked = null;
      s.refused = null;
      const recovered = isRecovered(asked, reply) && s.held <= reply.seq;
      s.held = 0;
      s.filtered = reply.filtered;
      if (!recovered) this.moveTo(s, reply);
      s.fresh = false;
      return { seq: reply.seq, epoch: reply.epoch, recovered };
    }
    // moveTo sets s's position to reply's. Within one epoch a position only
    // moves forward: while two transports overlap (a switch), the old one
    // may have delivered pushes past the new one's reply. A reply without
    // an epoch (a server before streams) on a new connection may come from
    // a restarted server, which counts Seq from 1 again: it is taken as it
    // is.
    moveTo(s, reply) {
      if (reply.seq === void 0) return;
      const same = reply.epoch === void 0 ? s.epoch === void 0 && !s.fresh : sameEpoch(reply.epoch, s.epoch);
      if (!same || typeof s.seq !== "number" || reply.seq > s.seq) s.seq = reply.seq;
      s.epoch = reply.epoch;
    }
    /** refuse records that the server refused model's subscription. */
    refuse(model, err) {
      const s = this.streams.get(model);
      if (!s) return;
      s.asked = null;
      s.refused = err;
    }
    /**
     * accept tells what to do with a push of Seq seq to model (a VERDICT)
     * and moves the stream's position when it is applied.
     */
    accept(model, seq) {
      const s = this.streams.get(model);
      if (!s) return VERDICT.apply;
      const v = verdict(s.seq, seq, s.asked !== null, s.filtered);
      if (v === VERDICT.held) s.held = Math.max(s.held, seq);
      else if (v !== VERDICT.duplicate && typeof seq === "number") s.seq = seq;
      return v;
    }
    /**
     * own counts the Seq of a broadcast of this client's, which the server
     * does not push back to its sender, so that the next push is no gap.
     * A reply that is not a Seq (or {seq}) changes nothing.
     */
    own(model, msg) {
      const s = this.streams.get(model);
      const seq = parseSubscribeReply(msg).seq;
      if (s && typeof seq === "number" && s.seq === seq - 1) s.seq = seq;
    }
    /**
     * newSession notes that the connection the streams were answered on
     * is gone: the positions stay (the next connection resumes from them),
     * marked fresh (see moveTo).
     */
    newSession() {
      for (const s of this.streams.values()) {
        s.fresh = true;
        s.asked = null;
      }
    }
  };

  // src/timer.js
  function jitter(ms, random = Math.random) {
    return Math.round(ms * (1 - BACKOFF_JITTER + 2 * BACKOFF_JITTER * random()));
  }
  function backoff(tries, min, max, random = Math.random) {
    return jitter(Math.min(max, min * Math.pow(2, Math.max(0, tries - 1))), random);
  }
  var ReconnectTimer = class {
    constructor(callback, timerCalc) {
      this.callback = callback;
      this.timerCalc = timerCalc;
      this.timer = null;
      this.tries = 0;
    }
    /** reset cancels a pending call and starts counting tries from zero. */
    reset() {
      this.tries = 0;
      this.cancel();
    }
    /** cancel drops a pending call and keeps the count. */
    cancel() {
      clearTimeout(this.timer);
      this.timer = null;
    }
    /** pending tells whether a call is scheduled. */
    get pending() {
      return this.timer !== null;
    }
    /** scheduleTimeout schedules the next call and returns its delay in ms. */
    scheduleTimeout() {
      this.cancel();
      const delay = this.timerCalc(this.tries + 1);
      this.timer = setTimeout(() => {
        this.timer = null;
        this.tries += 1;
        this.callback();
      }, delay);
      return delay;
    }
  };

  // src/auth.js
  function withToken(url, token) {
    if (!token) return url;
    return url + (url.includes("?") ? "&" : "?") + TOKEN_PARAM + "=" + encodeURIComponent(token);
  }
  function authHeaders(token, headers = {}) {
    if (!token) return headers;
    return Object.assign({}, headers, { Authorization: "Bearer " + token });
  }
  function redact(text, token) {
    let s = String(text);
    if (!token) return s;
    for (const form of /* @__PURE__ */ new Set([token, encodeURIComponent(token)])) s = s.split(form).join(REDACTED);
    return s;
  }

  // src/transports/url.js
  function absoluteURL(path, ws = false) {
    const base = globalThis.location ? globalThis.location.href : void 0;
    const u = new URL(path, base);
    if (ws) u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    return u;
  }
  function withQuery(url, query) {
    return url + (url.includes("?") ? "&" : "?") + query;
  }
  function httpURL(opts, query) {
    const url = withQuery(opts.url, CHANNEL_PARAM + "=" + encodeURIComponent(opts.channel));
    return absoluteURL(query ? withQuery(url, query) : url).href;
  }

  // src/transports/http.js
  async function postMessage(transport, bytes) {
    const text = transport.opts.frames === FRAMES.text;
    try {
      let res;
      try {
        res = await globalThis.fetch(httpURL(transport.opts), {
          method: "POST",
          body: text ? bytesToBinaryString(bytes) : bytes,
          headers: authHeaders(transport.opts.token, { "Content-Type": text ? "text/plain; charset=utf-8" : "application/octet-stream" }),
          credentials: "same-origin",
          cache: "no-store"
        });
      } catch (e) {
        throw new TransportError(transport.scrub("POST: " + e.message));
      }
      if (res.status === HTTP_NO_CONTENT) return;
      if (!res.ok) {
        if (res.status === HTTP_UNAUTHORIZED) throw new AuthError(await refusal(transport.opts.token, "POST", res));
        if (res.status >= HTTP_SERVER_ERROR || res.status === HTTP_NOT_FOUND) throw new TransportError("POST: HTTP " + res.status);
        const t = await res.text();
        transport.onerror(new Error(transport.scrub("POST: HTTP " + res.status + ": " + t.slice(0, MESSAGE_EXCERPT))));
        return;
      }
      await deliverBody(transport, res);
    } catch (e) {
      if (e.transient) transport.gone(e.message, e.code);
      throw e;
    }
  }
  async function refusal(token, what, res) {
    let reason = "";
    try {
      reason = (await res.text()).trim().slice(0, MESSAGE_EXCERPT);
    } catch {
    }
    return redact(what + ": HTTP " + res.status + (reason ? ": " + reason : ""), token);
  }
  async function tokenRefused(opts) {
    let res;
    try {
      res = await globalThis.fetch(httpURL(opts), {
        method: "POST",
        body: PING_TEXT,
        headers: authHeaders(opts.token, { "Content-Type": "text/plain; charset=utf-8" }),
        credentials: "same-origin",
        cache: "no-store"
      });
    } catch {
      return null;
    }
    if (res.status === HTTP_UNAUTHORIZED) return refusal(opts.token, "token check", res);
    await res.arrayBuffer().catch(() => {
    });
    return null;
  }
  async function deliverBody(transport, res) {
    const buf = await res.arrayBuffer();
    if (!buf.byteLength) return;
    let bytes = new Uint8Array(buf);
    if (/^text\//i.test(res.headers.get("Content-Type") || "")) {
      try {
        bytes = binaryStringToBytes(new TextDecoder().decode(bytes));
      } catch (e) {
        transport.onerror(e);
        return;
      }
    }
    transport.onmessage(bytes);
  }

  // src/transports/transport.js
  var Transport = class {
    /** opts: url, frames, openTimeout, pingInterval, channel, token (from the client's options). */
    constructor(opts) {
      this.opts = opts;
      this.closed = false;
      this.isGone = false;
      this.onmessage = () => {
      };
      this.onerror = () => {
      };
      this.onclose = () => {
      };
    }
    // gone reports, once, that the transport went away (code: see above).
    gone(why, code) {
      if (this.isGone) return;
      this.isGone = true;
      this.onclose(why, code);
    }
    // scrub is text with this transport's token taken out.
    scrub(text) {
      return redact(text, this.opts.token);
    }
  };

  // src/transports/eventsource.js
  var EventSourceTransport = class extends Transport {
    constructor(opts) {
      super(opts);
      this.name = TRANSPORT.eventsource;
      this.es = null;
    }
    open() {
      return new Promise((resolve, reject) => {
        if (typeof globalThis.EventSource !== "function") {
          reject(new TransportError("eventsource: not in this browser"));
          return;
        }
        let es;
        try {
          es = new globalThis.EventSource(withToken(httpURL(this.opts, EVENTSOURCE_QUERY), this.opts.token), { withCredentials: true });
        } catch (e) {
          reject(new TransportError(this.scrub("eventsource: " + e.message)));
          return;
        }
        this.es = es;
        let opened = false;
        const timer = setTimeout(() => {
          if (opened) return;
          es.close();
          reject(new TransportError("eventsource: open timed out"));
        }, this.opts.openTimeout);
        es.onopen = () => {
          opened = true;
          clearTimeout(timer);
          resolve(this);
        };
        es.onerror = () => {
          es.close();
          clearTimeout(timer);
          if (!opened) reject(Object.assign(new TransportError("eventsource: failed to open"), { statusUnknown: true }));
          else this.gone("eventsource closed");
        };
        es.onmessage = (ev) => {
          let bytes;
          try {
            bytes = binaryStringToBytes(globalThis.atob(ev.data));
          } catch {
            this.onerror(new Error("eventsource: bad base64 message"));
            return;
          }
          this.onmessage(bytes);
        };
      });
    }
    send(bytes) {
      if (this.isGone || this.closed) return Promise.reject(new TransportError("eventsource closed"));
      return postMessage(this, bytes);
    }
    close() {
      this.closed = true;
      if (this.es) this.es.close();
    }
  };

  // src/transports/longpoll.js
  var LongPollTransport = class extends Transport {
    constructor(opts) {
      super(opts);
      this.name = TRANSPORT.longpoll;
      this.abort = null;
    }
    // open POSTs "ping" first: a poll is held until the server has a
    // message, so it cannot tell that the server is there, and the session
    // cookie would come only with its answer, so POSTs made meanwhile would
    // each start a session of their own. The ping, answered at once, does
    // both, and tells a refused token (401) apart.
    async open() {
      let res;
      try {
        res = await globalThis.fetch(httpURL(this.opts), {
          method: "POST",
          body: PING_TEXT,
          headers: authHeaders(this.opts.token, { "Content-Type": "text/plain; charset=utf-8" }),
          credentials: "same-origin",
          cache: "no-store"
        });
        if (res.ok) await res.text();
      } catch (e) {
        throw new TransportError(this.scrub("long-poll: " + e.message));
      }
      if (res.status === HTTP_UNAUTHORIZED) throw new AuthError(await refusal(this.opts.token, "long-poll", res));
      if (!res.ok) throw new TransportError("long-poll: HTTP " + res.status);
      this.poll();
      return this;
    }
    async poll() {
      while (!this.closed && !this.isGone) {
        this.abort = new AbortController();
        try {
          const res = await globalThis.fetch(withToken(httpURL(this.opts, POLL_BUSTER + "=" + Date.now()), this.opts.token), {
            method: "GET",
            credentials: "same-origin",
            cache: "no-store",
            signal: this.abort.signal
          });
          if (res.status === HTTP_NO_CONTENT) continue;
          if (res.status === HTTP_UNAUTHORIZED) throw new AuthError(await refusal(this.opts.token, "long-poll", res));
          if (!res.ok) throw new TransportError("long-poll: HTTP " + res.status);
          await deliverBody(this, res);
        } catch (e) {
          if (this.closed) return;
          if (e instanceof AuthError) this.gone(e.message, CODE.unauthorized);
          else this.gone(this.scrub("long-poll: " + e.message));
          return;
        }
      }
    }
    send(bytes) {
      if (this.isGone || this.closed) return Promise.reject(new TransportError("long-poll closed"));
      return postMessage(this, bytes);
    }
    close() {
      this.closed = true;
      if (this.abort) this.abort.abort();
    }
  };

  // src/transports/websocket.js
  var WebSocketTransport = class extends Transport {
    constructor(opts) {
      super(opts);
      this.name = TRANSPORT.websocket;
      this.ws = null;
      this.pinger = null;
      this.lastHeard = 0;
    }
    open() {
      return new Promise((resolve, reject) => {
        let ws;
        try {
          ws = new globalThis.WebSocket(withToken(absoluteURL(this.opts.url, true).href, this.opts.token));
        } catch (e) {
          reject(new TransportError(this.scrub("websocket: " + e.message)));
          return;
        }
        ws.binaryType = "arraybuffer";
        this.ws = ws;
        let opened = false;
        const timer = setTimeout(() => {
          if (opened) return;
          ws.close();
          reject(new TransportError("websocket: open timed out"));
        }, this.opts.openTimeout);
        ws.onopen = () => {
          opened = true;
          clearTimeout(timer);
          this.startPing();
          resolve(this);
        };
        ws.onerror = () => {
        };
        ws.onclose = (ev) => {
          clearTimeout(timer);
          this.stopPing();
          if (!opened) {
            reject(Object.assign(new TransportError("websocket: closed before open (" + ev.code + ")"), { statusUnknown: true }));
            return;
          }
          const why = this.scrub("websocket closed (" + ev.code + (ev.reason ? " " + ev.reason : "") + ")");
          this.gone(why, ev.code === WS_CLOSE_UNAUTHORIZED ? CODE.unauthorized : void 0);
        };
        ws.onmessage = (ev) => this.receive(ev.data);
      });
    }
    receive(data) {
      this.lastHeard = Date.now();
      if (data instanceof ArrayBuffer) {
        this.onmessage(new Uint8Array(data));
        return;
      }
      const s = String(data);
      if (s.charCodeAt(0) === MAGIC) {
        let bytes;
        try {
          bytes = binaryStringToBytes(s);
        } catch (e) {
          this.onerror(e);
          return;
        }
        this.onmessage(bytes);
      } else if (s !== PONG_TEXT) {
        this.onerror(new Error(this.scrub("server said: " + s.slice(0, MESSAGE_EXCERPT))));
      }
    }
    startPing() {
      this.lastHeard = Date.now();
      const every = this.opts.pingInterval;
      if (!every) return;
      this.pinger = setInterval(() => {
        if (Date.now() - this.lastHeard > PING_MISSES * every) {
          this.close();
          this.gone("websocket: no answer to ping");
          return;
        }
        if (this.ws.readyState === WS_OPEN) this.ws.send(PING_TEXT);
      }, every);
    }
    stopPing() {
      clearInterval(this.pinger);
      this.pinger = null;
    }
    send(bytes) {
      if (!this.ws || this.ws.readyState !== WS_OPEN) return Promise.reject(new TransportError("websocket not open"));
      this.ws.send(this.opts.frames === FRAMES.text ? bytesToBinaryString(bytes) : bytes);
      return Promise.resolve();
    }
    close() {
      this.stopPing();
      this.closed = true;
      if (this.ws) {
        try {
          this.ws.close();
        } catch {
        }
      }
    }
  };

  // src/transports/index.js
  var TRANSPORTS = Object.freeze({
    [TRANSPORT.websocket]: WebSocketTransport,
    [TRANSPORT.eventsource]: EventSourceTransport,
    [TRANSPORT.longpoll]: LongPollTransport
  });
  function resolveTransports(list) {
    return list.map((t) => {
      if (typeof t === "function") return t;
      if (!Object.prototype.hasOwnProperty.call(TRANSPORTS, t)) throw new Error("bertsync: unknown transport " + t);
      return TRANSPORTS[t];
    });
  }

  // src/upload.js
  async function upload(apiRoot, model, id, file, fileName, token = null) {
    const form = new FormData();
    if (fileName) form.append(UPLOAD_PART, file, fileName);
    else form.append(UPLOAD_PART, file);
    const url = absoluteURL(apiRoot.replace(/\/$/, "") + "/" + encodeURIComponent(model) + "/" + encodeURIComponent(id)).href;
    let res;
    try {
      res = await globalThis.fetch(url, { method: "PUT", body: form, headers: authHeaders(token), credentials: "same-origin" });
    } catch (e) {
      throw new BertsyncError(CODE.unavailable, redact("upload failed: " + e.message, token));
    }
    const text = await res.text();
    let body;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = { error: text };
    }
    if (!res.ok) {
      const err = body && body.error;
      const e = new BertsyncError(
        err && err.code || "http_" + res.status,
        redact(err && err.message || (typeof err === "string" ? err : "upload failed: HTTP " + res.status), token)
      );
      e.status = res.status;
      throw e;
    }
    return body;
  }

  // src/client.js
  function isAttributes(v) {
    return v !== null && typeof v === "object" && !Array.isArray(v);
  }
  function checkToken(token, from) {
    if (token === void 0 || token === null || token === "") return null;
    if (typeof token !== "string") throw new TypeError("bertsync: " + from + ": a token is a string or null, not " + typeof token);
    return token;
  }
  var Client = class extends Emitter {
    constructor(options = {}) {
      super();
      const opts = Object.assign({}, DEFAULTS, options);
      opts.transports = Array.from(opts.transports);
      this.token = checkToken(opts.token, "the token option");
      this.tokenGiven = Boolean(options) && options.token !== void 0;
      delete opts.token;
      if (opts.renewToken !== null && opts.renewToken !== void 0 && typeof opts.renewToken !== "function") {
        throw new TypeError("bertsync: the renewToken option is a function returning a Promise of a token");
      }
      this.opts = opts;
      this.channel = newId();
      this.tokenGen = 0;
      this.renewing = null;
      this.renewTimer = null;
      this.authFailures = 0;
      this.authStopped = false;
      this.switchGate = null;
      this.transportClasses = resolveTransports(opts.transports);
      this.storage = resolveStorage(opts.storage, opts.prefix);
      this.cache = new DocumentCache(this.storage, opts.prefix);
      this.queue = new OfflineQueue({ storage: this.storage, prefix: opts.prefix });
      this.queue.on("adopted", (n) => {
        this.trigger("adopted", n);
        this.trigger("pending", this.pending);
        this.pump();
      });
      this.queue.on("error", (e) => this.trigger("error", e));
      this.queueOpen = null;
      this.subscriptions = new Subscriptions();
      this.state = STATE.offline;
      this.transport = null;
      this.started = false;
      this.run = 0;
      this.connecting = false;
      this.ref = 0;
      this.pendingReplies = /* @__PURE__ */ new Map();
      this.waiters = /* @__PURE__ */ new Map();
      this.late = /* @__PURE__ */ new Map();
      this.pumping = false;
      this.drainWaiters = [];
      this.reconnectTimer = new ReconnectTimer(() => this.connectLoop(), (tries) => backoff(tries, opts.backoffMin, opts.backoffMax));
      this.probeTimer = new ReconnectTimer(() => this.probe(), () => jitter(opts.probeInterval));
      this.pumpTimer = new ReconnectTimer(() => this.pump(), () => jitter(opts.backoffMax));
      this.onOnline = () => {
        if (!this.authStopped) this.reconnectNow();
      };
    }
    /** pending is the number of queued writes. */
    get pending() {
      return this.queue.length;
    }
    /**
     * connect starts the I/O: it claims the tab's offline queue and tries
     * the transports in order, then keeps a connection up until disconnect
     * or close. It returns the client; calling it again does nothing.
     */
    connect() {
      if (this.started) return this;
      this.started = true;
      this.run++;
      if (typeof globalThis.addEventListener === "function") globalThis.addEventListener("online", this.onOnline);
      this.openQueue();
      this.setState(STATE.connecting);
      this.scheduleRenewal();
      this.connectLoop();
      return this;
    }
    /**
     * disconnect closes the connection and stops reconnecting; the queue
     * and the subscriptions stay, and connect() takes up from there.
     * Requests waiting for a reply fail (queued writes stay queued).
     */
    disconnect() {
      if (!this.started) return this;
      this.started = false;
      this.run++;
      this.connecting = false;
      this.authStopped = false;
      this.authFailures = 0;
      this.reconnectTimer.reset();
      this.probeTimer.cancel();
      this.pumpTimer.cancel();
      clearTimeout(this.renewTimer);
      this.renewTimer = null;
      if (typeof globalThis.removeEventListener === "function") globalThis.removeEventListener("online", this.onOnline);
      const t = this.transport;
      this.transport = null;
      if (t) {
        t.retired = true;
        t.close();
      }
      this.failPendingRequests(new TransportError("client disconnected"));
      this.setState(STATE.offline);
      return this;
    }
    /** close is disconnect that also lets go of the tab's queue (it stays stored, for a later client). */
    close() {
      this.disconnect();
      this.queue.close();
      this.queueOpen = null;
      return this;
    }
    /**
     * takeOver carries over what a client this one replaces (and that was
     * closed) held in memory only: its subscribers, the listeners of its
     * queued writes, the writes it had not stored yet (made before its
     * connect()), and its token unless this one's options named one. Call
     * it before connect().
     */
    takeOver(old) {
      if (!this.tokenGiven && old.token) this.token = old.token;
      this.subscriptions.adopt(old.subscriptions);
      for (const [qid, late] of old.late) this.late.set(qid, late);
      for (const item of old.queue.unstored()) this.queue.push(item);
    }
    // openQueue claims the tab's queue (once), then sends what it holds.
    openQueue() {
      if (!this.queueOpen) {
        this.queueOpen = this.queue.open().then(() => {
          this.trigger("pending", this.pending);
          this.pump();
        });
      }
      return this.queueOpen;
    }
    setState(state) {
      if (this.state === state) return;
      this.state = state;
      this.trigger("state", state, this.transport && this.transport.name);
    }
    // transportOptions is what a transport is made with: the one place the
    // current token and channel go in, so that every transport, and so every
    // request and queued write it carries, presents the current token.
    transportOptions() {
      const o = Object.assign({}, this.opts, { token: this.token, channel: this.channel });
      delete o.renewToken;
      return o;
    }
    makeTransport(Transport2) {
      const t = new Transport2(this.transportOptions());
      t.inbox = Promise.resolve();
      t.onmessage = (bytes) => {
        t.inbox = t.inbox.then(() => decodeAsync(bytes)).then((term) => this.receive(term)).catch((e) => this.trigger("error", e));
      };
      t.onerror = (e) => this.trigger("error", e);
      t.onclose = (why, code) => this.down(t, why, code);
      return t;
    }
    // openBest tries the transports in order and resolves with the first
    // that opens ({t, i}: it and its index), or rejects with the last
    // failure. A refused token (AuthError) ends the round at once, as does
    // current() turning false. When every transport failed without showing
    // why (a WebSocket or EventSource hides the HTTP status) and there is a
    // token, one POST asks whether the token was the cause.
    async openBest(current) {
      const classes = this.transportClasses;
      let lastErr = null;
      let hidden = true;
      for (let i = 0; i < classes.length && current(); i++) {
        const t = this.makeTransport(classes[i]);
        try {
          await t.open();
          return { t, i };
        } catch (err) {
          if (isAuthError(err)) throw err;
          lastErr = err;
          if (!(err && err.statusUnknown)) hidden = false;
        }
      }
      if (lastErr && hidden && this.token && current()) {
        const why = await tokenRefused(this.transportOptions());
        if (why) throw new AuthError(why);
      }
      throw lastErr || new TransportError("no transport");
    }
    // connectLoop tries the transports in order until one opens; when none
    // does, it tries again after the reconnect timer's delay, and when the
    // server refused the token, it renews it (refused).
    connectLoop() {
      if (!this.started || this.connecting || this.authStopped) return;
      this.connecting = true;
      this.reconnectTimer.cancel();
      const run = this.run;
      this.openBest(() => run === this.run).then(
        ({ t, i }) => {
          if (run !== this.run) {
            t.retired = true;
            t.close();
            return;
          }
          this.connecting = false;
          this.reconnectTimer.reset();
          this.up(t, i > 0);
        },
        (err) => {
          if (run !== this.run) return;
          this.connecting = false;
          this.setState(STATE.offline);
          this.failPendingRequests(err);
          if (isAuthError(err)) {
            this.refused(err);
            return;
          }
          const delay = this.reconnectTimer.scheduleTimeout();
          this.trigger("retry", delay, err);
        }
      );
    }
    // restartLoop starts the connect loop again, so that the transports it
    // has yet to try are made with the token just set.
    restartLoop() {
      this.run++;
      this.connecting = false;
      this.connectLoop();
    }
    /**
     * reconnectNow retries at once while offline (a page's "online" event
     * does too), also after the server refused the token and the client
     * stopped (which the "online" event does not undo).
     */
    reconnectNow() {
      if (!this.started || this.state === STATE.online || this.connecting) return;
      this.authStopped = false;
      this.authFailures = 0;
      this.reconnectTimer.reset();
      this.connectLoop();
    }
    // refused handles the server refusing the token (err, an AuthError):
    // renewToken is asked for a new one and the client connects again with
    // it, at once the first time and after the reconnect backoff when the
    // new one was refused too. With no renewToken, or after AUTH_RENEW_TRIES
    // refusals in a row, it stops and reports err on "error": a refused
    // token is not tried again until setToken or reconnectNow. A renewToken
    // that fails (rejects) is asked again after the backoff, like a
    // connection that failed.
    refused(err) {
      this.authFailures++;
      if (typeof this.opts.renewToken !== "function" || this.authFailures > AUTH_RENEW_TRIES) {
        this.authStopped = true;
        this.reconnectTimer.reset();
        this.trigger("error", err);
        return;
      }
      const run = this.run;
      this.renew(RENEW.refused).then(
        () => {
          if (run !== this.run || this.state === STATE.online || this.connecting) return;
          if (this.authFailures === 1) this.connectLoop();
          else this.trigger("retry", this.reconnectTimer.scheduleTimeout(), err);
        },
        (e) => {
          if (run !== this.run) return;
          this.authFailures--;
          this.trigger("error", e);
          this.trigger("retry", this.reconnectTimer.scheduleTimeout(), e);
        }
      );
    }
    /**
     * setToken makes token (a string, or null for none) the one the client
     * presents from now on. Connected, it moves to a new connection made
     * with it (the old one is closed once its replies are in), so that the
     * server sees the new identity; offline, it tries to connect at once,
     * also after the server refused the old token.
     */
    setToken(token) {
      token = checkToken(token, "setToken");
      this.authFailures = 0;
      if (token !== this.token) this.useToken(token, "set");
      if (this.state !== STATE.online && !this.connecting) this.reconnectNow();
    }
    // useToken makes token the current one (why: 'set' or 'renewed', for the
    // "token" event) and moves an open connection to it.
    useToken(token, why) {
      this.token = token;
      this.tokenGen++;
      this.channel = newId();
      this.authStopped = false;
      this.scheduleRenewal();
      this.trigger("token", why);
      if (!this.started) return;
      if (this.state === STATE.online) this.switchTransport();
      else if (this.connecting) this.restartLoop();
    }
    /**
     * renew asks renewToken (once at a time: callers share the call) for a
     * new token and makes it the current one; it resolves once it is, and
     * rejects with renewToken's failure, or a TypeError for an answer that
     * is neither a string nor null. A token set meanwhile by setToken wins.
     */
    renew(reason) {
      if (this.renewing) return this.renewing;
      const fn = this.opts.renewToken;
      if (typeof fn !== "function") return Promise.reject(new AuthError("no renewToken to renew the token with"));
      const gen = this.tokenGen;
      const p = Promise.resolve().then(() => fn(reason)).then((token) => {
        token = checkToken(token, "renewToken");
        if (gen === this.tokenGen) this.useToken(token, "renewed");
      }).finally(() => {
        if (this.renewing === p) this.renewing = null;
      });
      this.renewing = p;
      return p;
    }
    // scheduleRenewal sets the timer that renews a JWT renewBefore its exp
    // (jwt.js), when there is a renewToken; a failed renewal is reported,
    // and the token is then renewed when the server refuses it.
    scheduleRenewal() {
      clearTimeout(this.renewTimer);
      this.renewTimer = null;
      if (!this.started || typeof this.opts.renewToken !== "function" || !this.opts.renewBefore) return;
      const delay = renewDelay(this.token, Date.now(), this.opts.renewBefore);
      if (delay === null) return;
      const gen = this.tokenGen;
      this.renewTimer = setTimeout(() => {
        this.renewTimer = null;
        if (delay > TIMER_MAX) {
          this.scheduleRenewal();
          return;
        }
        this.renew(RENEW.expiring).catch((e) => {
          if (gen === this.tokenGen) this.trigger("error", e);
        });
      }, Math.min(delay, TIMER_MAX));
    }
    // switchTransport moves the connection to a transport made with the
    // current token, the old one retired once its replies are in (as after
    // a probe). Requests made meanwhile wait (at most openTimeout), so that
    // what a page does after setToken goes as the new identity. Should none
    // open, the old connection goes on until the server ends it; should the
    // server refuse the new token, the old connection is dropped and the
    // refusal handled as any other.
    switchTransport() {
      const run = this.run;
      const gen = this.tokenGen;
      const current = () => run === this.run && gen === this.tokenGen && this.state === STATE.online;
      let release;
      const gate = new Promise((resolve) => {
        release = resolve;
      });
      gate.then(() => {
        if (this.switchGate === gate) this.switchGate = null;
      });
      const timer = setTimeout(release, this.opts.openTimeout);
      this.switchGate = gate;
      const opened = () => {
        clearTimeout(timer);
        if (this.switchGate === gate) this.switchGate = null;
        release();
      };
      this.openBest(current).then(
        ({ t, i }) => {
          opened();
          if (!current()) {
            t.retired = true;
            t.close();
            return;
          }
          this.up(t, i > 0);
        },
        (err) => {
          opened();
          if (!current() || !isAuthError(err)) return;
          const old = this.transport;
          old.retired = true;
          old.close();
          this.lose(old, err);
          this.refused(err);
        }
      );
    }
    // up makes t the transport. Subscriptions live in the server's session:
    // renew them, each asking to resume its stream, then send what was
    // queued. A stream the server resumed gets what it missed as ordinary
    // pushes, right after the reply and before any live push (the queue's
    // own included), so the page sees every change in the server's order;
    // the subscribers of the others reload once the queue is sent, so that
    // what they read holds the tab's own writes.
    up(t, fallback) {
      const old = this.transport;
      if (!old) this.subscriptions.newSession();
      this.transport = t;
      this.authFailures = 0;
      this.setState(STATE.online);
      this.trigger("transport", t.name);
      const models = this.subscriptions.models();
      Promise.all(models.map((m) => this.resubscribe(m))).then((reload) => {
        if (old) this.retire(old);
        this.pump();
        return this.drained().then(() => reload);
      }).then((reload) => {
        const reloaded = models.filter((m, i) => reload[i]);
        for (const m of reloaded) this.reload(m);
        this.trigger("synced", reloaded);
      });
      if (fallback) this.scheduleProbe();
    }
    // resubscribe renews model's subscription on the new connection and
    // resolves with whether its subscribers must reload: not when the
    // server resumed the stream, nor when the connection went meanwhile
    // (the next one asks again), nor when the server refused it (refusal).
    // A replay is not awaited: pushes of it that never come show as a gap
    // at the next push. (Where the rules let a subscriber hear only its
    // own documents, the replay ends short of Top by design.)
    resubscribe(model) {
      const props = this.subscriptions.resume(model);
      return this.sendSubscribe(model, props).then(
        (pos) => {
          this.trigger("resubscribed", model, pos.recovered, pos.seq);
          return !pos.recovered;
        },
        (err) => {
          if (err && err.transient) {
            this.subscriptions.abandon(model);
            return false;
          }
          this.refusal(model, err);
          return false;
        }
      );
    }
    // refusal reports that the server refused model's subscription on a
    // new connection, where no caller waits for the answer: on the client's
    // error event (with {method: 'subscribe', model}) and to each subscriber
    // that has a refused(err). The subscribers stay: the next connection
    // asks again (a new token may be let in), until unsubscribe.
    refusal(model, err) {
      this.subscriptions.refuse(model, err);
      this.trigger("error", err, { method: METHOD.subscribe, model });
      for (const s of this.subscriptions.subscribers(model)) {
        if (typeof s.refused === "function") s.refused(err);
      }
    }
    // reload has model's subscribers read what they show again, one round
    // at a time: asked for during one, another round follows it, since the
    // reads under way may have been answered before what made it ask.
    reload(model) {
      const s = this.subscriptions.get(model);
      if (!s || s.refused) return;
      if (s.reloading) {
        s.reloadAgain = true;
        return;
      }
      this.trigger("reload", model);
      const rounds = Array.from(s.subscribers).map((sub) => {
        try {
          return Promise.resolve(sub.reload()).catch(() => {
          });
        } catch {
          return void 0;
        }
      });
      s.reloading = Promise.all(rounds).then(() => {
        s.reloading = null;
        if (!s.reloadAgain) return;
        s.reloadAgain = false;
        this.reload(model);
      });
    }
    // retire closes a transport that another replaced, once the replies it
    // owes have come (or RETIRE_TIMEOUT has passed).
    retire(old) {
      const inFlight = [];
      this.pendingReplies.forEach((p) => {
        if (p.transport === old) inFlight.push(p.promise.catch(() => {
        }));
      });
      let timer = null;
      const close = () => {
        if (old.retired) return;
        clearTimeout(timer);
        old.retired = true;
        old.close();
      };
      timer = setTimeout(close, RETIRE_TIMEOUT);
      Promise.all(inFlight).then(close);
    }
    scheduleProbe() {
      this.probeTimer.cancel();
      if (!this.opts.probeInterval || !this.transport || this.transport.constructor === this.transportClasses[0]) return;
      this.probeTimer.scheduleTimeout();
    }
    // probe tries the first (best) transport while on a fallback, and moves
    // to it when it opens: bullet.js never goes back, this client does.
    probe() {
      if (!this.started || this.state !== STATE.online) return;
      const run = this.run;
      const t = this.makeTransport(this.transportClasses[0]);
      t.open().then(
        () => {
          if (run !== this.run || this.state !== STATE.online) {
            t.retired = true;
            t.close();
            return;
          }
          this.trigger("probe", t.name, true);
          this.up(t, false);
        },
        () => {
          this.trigger("probe", t.name, false);
          this.scheduleProbe();
        }
      );
    }
    // down handles the end of the transport in use. Ended for the token it
    // presents (code unauthorized) while that is still the current token,
    // it is a refusal (refused); ended for an older one, the client simply
    // connects again with the current token.
    down(t, why, code) {
      if (t.retired || t !== this.transport) return;
      const err = code === CODE.unauthorized ? new AuthError(why) : new TransportError(why);
      this.lose(t, err);
      if (isAuthError(err) && t.opts.token === this.token) this.refused(err);
      else this.reconnectTimer.scheduleTimeout();
    }
    // lose lets go of t, the transport in use, which ended with err.
    lose(t, err) {
      this.transport = null;
      this.probeTimer.cancel();
      this.setState(STATE.offline);
      this.failPendingRequests(err, t);
      this.trigger("down", err.message);
    }
    failPendingRequests(err, t) {
      this.pendingReplies.forEach((p, ref) => {
        if (t && p.transport !== t) return;
        this.pendingReplies.delete(ref);
        clearTimeout(p.timer);
        p.reject(err);
      });
    }
    /**
     * request sends {sync, Method, Model, Props, Ref} on the current
     * transport and resolves with the reply's Msg as plain JavaScript, or
     * rejects with a BertsyncError (refused) or a TransportError (no
     * connection, or no reply within requestTimeout).
     */
    request(method, model, props) {
      return this.call(method, model, props);
    }
    // call is request with onReply: when given, it is called with the Msg
    // as the reply is read, before any later message is (a resubscribe's
    // replayed pushes come right after it), and its result is what the
    // promise resolves with.
    call(method, model, props, onReply) {
      if (this.switchGate) return this.switchGate.then(() => this.call(method, model, props, onReply));
      const t = this.transport;
      if (!t || this.state !== STATE.online) return Promise.reject(new TransportError("offline"));
      const ref = ++this.ref;
      let bytes;
      try {
        bytes = encodeRequest(method, model, props, ref);
      } catch (e) {
        return Promise.reject(new BertsyncError(CODE.badRequest, e.message));
      }
      const entry = { transport: t, onReply };
      entry.promise = new Promise((resolve, reject) => {
        entry.resolve = resolve;
        entry.reject = reject;
        entry.timer = setTimeout(() => {
          this.pendingReplies.delete(ref);
          reject(new TransportError("no reply to " + method + " " + model + " within " + this.opts.requestTimeout + " ms"));
        }, this.opts.requestTimeout);
      });
      this.pendingReplies.set(ref, entry);
      t.send(bytes).catch((e) => {
        if (this.pendingReplies.get(ref) !== entry) return;
        this.pendingReplies.delete(ref);
        clearTimeout(entry.timer);
        entry.reject(e);
      });
      return entry.promise;
    }
    receive(term) {
      const msg = parseMessage(term);
      if (msg.kind === "reply") {
        const entry = msg.ref === void 0 ? void 0 : this.pendingReplies.get(msg.ref);
        if (!entry) {
          if (msg.error) this.trigger("error", msg.error);
          return;
        }
        this.pendingReplies.delete(msg.ref);
        clearTimeout(entry.timer);
        if (msg.error) {
          entry.reject(msg.error);
          return;
        }
        if (!entry.onReply) {
          entry.resolve(msg.value);
          return;
        }
        try {
          entry.resolve(entry.onReply(msg.value));
        } catch (e) {
          entry.reject(e);
        }
        return;
      }
      if (msg.kind === "push") {
        this.push(msg.event, msg.model, msg.props, msg.seq);
        return;
      }
      this.trigger("error", new BertsyncError(CODE.badRequest, "unexpected message from the server"));
    }
    // push applies a push, by its Seq against the stream's position: one
    // seen already (two transports overlapping in a switch, a replay of
    // what another transport brought) is dropped, one beyond the next
    // means pushes were missed, and the subscribers reload. Subscribers
    // and the cache see the document with the tab's queued writes of it
    // laid over (streams.js overlayPending); the push event has it as the
    // server sent it.
    push(event, model, props, seq) {
      const v = this.subscriptions.accept(model, seq);
      if (v === VERDICT.duplicate || v === VERDICT.held) return;
      if (Array.isArray(props) && props.length === 0) props = {};
      let shown = props;
      if (isAttributes(props)) {
        shown = overlayPending(event, props, this.queue.pendingFor(model, props.id));
        if (shown && (event === PUSH.created || event === PUSH.updated)) this.cache.put(model, shown);
        if (event === PUSH.deleted) this.cache.delete(model, props.id);
      }
      if (shown !== null) {
        for (const s of this.subscriptions.subscribers(model)) s.push(event, shown, seq);
      }
      if (v === VERDICT.gap) this.reload(model);
      this.trigger("push", event, model, props, seq);
      if (event === PUSH.broadcast) this.trigger("broadcast", model, props, seq);
    }
    /** whenOnline resolves true once the client is online, or false after ms. */
    whenOnline(ms) {
      if (this.state === STATE.online) return Promise.resolve(true);
      return new Promise((resolve) => {
        let timer = null;
        const onState = (s) => {
          if (s === STATE.online) done(true);
        };
        const done = (v) => {
          this.off("state", onState);
          clearTimeout(timer);
          resolve(v);
        };
        timer = setTimeout(() => done(false), ms);
        this.on("state", onState);
      });
    }
    cacheRead(model, id) {
      if (id === void 0) {
        const list = this.cache.list(model);
        if (!list) return Promise.reject(new BertsyncError(CODE.unavailable, "offline, and " + model + " was never read"));
        return Promise.resolve(list);
      }
      const found = this.cache.get(model, id);
      if (!found) return Promise.reject(new BertsyncError(CODE.unavailable, "offline, and " + model + " " + id + " is not cached"));
      return Promise.resolve(found);
    }
    /**
     * read returns a document's attributes (id given) or the collection's
     * list; from the cache when offline. Online, it goes after the writes
     * already queued, so a tab reads its own writes.
     */
    async read(model, id) {
      if (this.state === STATE.connecting) await this.whenOnline(this.opts.readWait);
      if (this.state !== STATE.online) return this.cacheRead(model, id);
      let res;
      try {
        await this.drained();
        res = await this.request(METHOD.read, model, id === void 0 ? [] : { id });
      } catch (e) {
        if (e.transient) return this.cacheRead(model, id);
        throw e;
      }
      if (id === void 0) {
        if (Array.isArray(res)) this.cache.save(model, res);
      } else {
        this.cache.put(model, res);
      }
      return res;
    }
    /**
     * write queues a create, update, patch, delete or broadcast and resolves
     * with the server's reply, or at once with the local attributes when
     * offline (the write is then sent, in order, on reconnect). late, when
     * given, hears how a write settled offline landed: landed(reply) or
     * refused(error).
     */
    write(method, model, props, late) {
      const item = { qid: newId(), method, model, props, at: Date.now() };
      this.queue.push(item);
      if (method === METHOD.delete) this.cache.delete(model, props.id);
      else if (method !== METHOD.broadcast) this.cache.put(model, props);
      if (late) this.late.set(item.qid, late);
      const p = new Promise((resolve, reject) => this.waiters.set(item.qid, { resolve, reject }));
      this.trigger("pending", this.pending);
      if (this.state === STATE.online) {
        this.pump();
      } else if (this.state === STATE.connecting) {
        this.whenOnline(this.opts.readWait).then((on) => {
          if (!on) this.settleOffline(item);
        });
      } else {
        this.settleOffline(item);
      }
      return p;
    }
    settleOffline(item) {
      const w = this.waiters.get(item.qid);
      if (!w) return;
      this.waiters.delete(item.qid);
      w.resolve(item.method === METHOD.delete || item.method === METHOD.broadcast ? {} : Object.assign({}, item.props));
    }
    // pump sends the queue in order, one write at a time, each removed only
    // when its reply came: a write whose transport dies unanswered is sent
    // again on reconnect.
    pump() {
      if (this.pumping || this.state !== STATE.online || !this.queue.ready) return;
      const item = this.queue.first();
      if (!item) {
        this.fireDrained();
        return;
      }
      this.pumping = true;
      const wasSent = item.sent;
      item.sent = true;
      this.queue.save();
      const onReply = item.method === METHOD.broadcast ? (res) => {
        this.subscriptions.own(item.model, res);
        return res;
      } : void 0;
      this.call(item.method, item.model, item.props, onReply).then(
        (res) => this.finish(item, null, res),
        (err) => {
          if (isRetryable(err)) {
            this.pumping = false;
            for (const q of this.queue.items) this.settleOffline(q);
            if (this.started) this.pumpTimer.scheduleTimeout();
            return;
          }
          if (wasSent && item.method === METHOD.create && err.code === CODE.conflict) this.finish(item, null, item.props);
          else if (wasSent && item.method === METHOD.delete && err.code === CODE.notFound) this.finish(item, null, {});
          else this.finish(item, err);
        }
      );
    }
    finish(item, err, res) {
      this.pumping = false;
      this.queue.remove(item);
      const w = this.waiters.get(item.qid);
      this.waiters.delete(item.qid);
      const late = this.late.get(item.qid);
      this.late.delete(item.qid);
      if (err) {
        if (item.method === METHOD.create) this.cache.delete(item.model, item.props.id);
        if (w) w.reject(err);
        else if (late && late.refused) late.refused(err);
        this.trigger("error", err, item);
      } else {
        if (isAttributes(res) && res.id !== void 0 && item.method !== METHOD.delete) this.cache.put(item.model, res);
        if (w) w.resolve(res);
        else if (late && late.landed) late.landed(res);
        this.trigger("sent", item, res);
      }
      this.trigger("pending", this.pending);
      this.pump();
    }
    /** drained resolves once the queue is empty. */
    drained() {
      if (!this.queue.length) return Promise.resolve();
      return new Promise((resolve) => this.drainWaiters.push(resolve));
    }
    fireDrained() {
      const ws = this.drainWaiters;
      this.drainWaiters = [];
      for (const f of ws) f();
      this.trigger("drained");
    }
    // sendSubscribe sends a subscribe and resolves with the stream's
    // position after its reply, {seq, epoch, recovered}; the reply is
    // applied as it is read, before the pushes that follow it.
    sendSubscribe(model, props) {
      return this.call(METHOD.subscribe, model, props, (msg) => this.subscriptions.subscribed(model, msg));
    }
    /**
     * subscribe adds a subscriber ({push(event, props, seq), reload()},
     * optionally refused(error)) to model's pushes, telling the server for
     * the first. Online, it resolves once the server has answered (with
     * the stream's position, {seq, epoch, recovered}), and rejects with the
     * server's error when it refuses: the subscriber is then removed.
     * Offline, it resolves at once (with undefined): the subscription is
     * renewed on every connection, and a refusal then is reported on the
     * error event and to the subscriber's refused (see refusal).
     */
    subscribe(model, subscriber) {
      if (!this.subscriptions.add(model, subscriber) || this.state !== STATE.online) return Promise.resolve();
      return this.sendSubscribe(model, []).catch((e) => {
        if (e.transient) return void 0;
        this.subscriptions.remove(model, subscriber);
        throw e;
      });
    }
    /** unsubscribe removes a subscriber, telling the server after the last. */
    unsubscribe(model, subscriber) {
      if (!this.subscriptions.remove(model, subscriber) || this.state !== STATE.online) return Promise.resolve();
      return this.request(METHOD.unsubscribe, model, []).catch((e) => {
        if (!e.transient) throw e;
      });
    }
    /**
     * upload PUTs a file to apiRoot/model/id (see upload.js) with the
     * current token, and resolves with the server's answer. Refused with a
     * 401, it renews the token (when there is a renewToken) and tries once
     * more; a failed renewal rejects with the 401's error.
     */
    async upload(model, id, file, fileName) {
      try {
        return await upload(this.opts.apiRoot, model, id, file, fileName, this.token);
      } catch (e) {
        if (e.status !== HTTP_UNAUTHORIZED || typeof this.opts.renewToken !== "function") throw e;
        try {
          await this.renew(RENEW.refused);
        } catch {
          throw e;
        }
      }
      return upload(this.opts.apiRoot, model, id, file, fileName, this.token);
    }
  };

  // src/facade.js
  function createBertsync() {
    const api = new Emitter();
    let client = null;
    const forward = (name, ...args) => api.trigger(name, ...args);
    const make = (options) => {
      const c = new Client(options);
      c.on("all", forward);
      return c;
    };
    const getClient = () => {
      if (!client) client = make();
      return client;
    };
    const sync = createSync(getClient);
    Object.assign(api, {
      version: VERSION,
      connect(options) {
        const old = client;
        client = make(options);
        if (old) {
          old.close();
          old.off("all", forward);
          client.takeOver(old);
        }
        return client.connect();
      },
      disconnect() {
        if (client) client.disconnect();
      },
      client: getClient,
      install(Backbone) {
        return install(Backbone || globalThis.Backbone, getClient, sync);
      },
      sync,
      reconnect() {
        if (client) client.reconnectNow();
      },
      setToken(token) {
        getClient().setToken(token);
      },
      jwtClaims,
      modelName,
      newId,
      encode,
      decode,
      decodeAsync,
      toJS,
      atom,
      tuple,
      Atom,
      Tuple,
      BitBinary,
      CodecError,
      bytesToBinaryString,
      binaryStringToBytes,
      Client
    });
    Object.defineProperties(api, {
      state: { get: () => client ? client.state : STATE.offline, enumerable: true },
      pending: { get: () => client ? client.pending : 0, enumerable: true },
      transport: { get: () => client && client.transport ? client.transport.name : null, enumerable: true }
    });
    return api;
  }

  // src/script.js
  var Bertsync = createBertsync();
  if (globalThis.Backbone) Bertsync.install(globalThis.Backbone);
  var script_default = Bertsync;
  return __toCommonJS(script_exports);
})();
Bertsync = Bertsync.default;
if (typeof module === "object" && module && module.exports) module.exports = Bertsync;
else if (typeof define === "function" && define.amd) define([], function () { return Bertsync; });
