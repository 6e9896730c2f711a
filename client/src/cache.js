// cache.js keeps the last known attributes of each document, per model
// type, in the storage, so that reads are answered while offline.
//
// Layout, after the prefix option:
//
//   cache:<model>        {"v": 2, "next": N}: the model's index entry. It
//                        exists once the model's collection was read (or a
//                        document of it was stored), and N is the order
//                        the next new document gets.
//   cache:<model>/<id>   {"o": order, "a": attributes}: one document.
//
// <model> and <id> are URI-encoded, so no model's key can be taken for
// another's. A push or a write touches its one document's entry (and the
// index entry when the document is new): its cost does not grow with the
// collection. Only a collection read rewrites them all, since it replaces
// them all. The order of a collection read offline is that of the last
// collection read online, documents added since at the end.
//
// Writes may fail (a full storage, a value JSON cannot hold such as a
// BigInt): the cache then forgets that document rather than keep a stale
// copy, and the failure is not reported: a cache may miss.

import { CACHE_FORMAT, KEY } from './constants.js';
import { keysWithPrefix } from './storage.js';

function parse(text) {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** DocumentCache is the cache of one client's storage; see the top of cache.js. */
export class DocumentCache {
  constructor(storage, prefix) {
    this.storage = storage;
    this.prefix = prefix;
    this.checked = new Set(); // models whose entry of client 0.1's format was looked for
  }

  indexKey(model) {
    return this.prefix + KEY.cache + encodeURIComponent(model);
  }

  docKey(model, id) {
    return this.indexKey(model) + '/' + encodeURIComponent(String(id));
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
        // Nothing more to do: the entry stays as it was.
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
    for (const k of keysWithPrefix(this.storage, this.indexKey(model) + '/')) {
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
    if (!attrs || attrs.id === undefined || attrs.id === null) return;
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
    if (id === undefined || id === null) return;
    this.upgrade(model);
    const key = this.docKey(model, id);
    if (this.storage.getItem(key) === null) return;
    try {
      this.storage.removeItem(key);
    } catch {
      // A storage that cannot remove cannot be helped.
    }
  }

  /** save replaces the model's documents by list, a collection read's answer, in its order. */
  save(model, list) {
    this.checked.add(model);
    for (const k of keysWithPrefix(this.storage, this.indexKey(model) + '/')) this.storage.removeItem(k);
    let n = 0;
    for (const attrs of list) {
      if (attrs && attrs.id !== undefined && attrs.id !== null && this.write(this.docKey(model, attrs.id), { o: n, a: attrs })) n++;
    }
    this.write(this.indexKey(model), { v: CACHE_FORMAT, next: n });
  }
}
