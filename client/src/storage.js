// storage.js picks where the client keeps its offline queue and cache: the
// page's localStorage, or a Map when there is none (private modes that
// throw on write, workers, node) or the page asked for memory only.

import { KEY } from './constants.js';

/** memoryStorage returns a Storage-shaped object that keeps its entries in memory. */
export function memoryStorage() {
  const m = new Map();
  return {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
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

/**
 * resolveStorage returns the storage of the `storage` option: undefined is
 * localStorage if it takes a write (else memory), null is memory, anything
 * else is used as it is.
 */
export function resolveStorage(option, prefix) {
  if (option === null) return memoryStorage();
  if (option !== undefined) return option;
  try {
    const s = globalThis.localStorage;
    s.setItem(prefix + KEY.probe, '1');
    s.removeItem(prefix + KEY.probe);
    return s;
  } catch {
    return memoryStorage();
  }
}

/** keysWithPrefix lists the keys of storage that start with prefix. */
export function keysWithPrefix(storage, prefix) {
  const keys = [];
  for (let i = 0; i < storage.length; i++) {
    const k = storage.key(i);
    if (k !== null && k.startsWith(prefix)) keys.push(k);
  }
  return keys;
}
