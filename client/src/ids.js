// ids.js makes the ids the client gives new models and tabs.

import { ID_RANDOM_BYTES } from './constants.js';

const BASE = 36;

/**
 * newId returns a fresh id: the time in base 36, then ID_RANDOM_BYTES
 * random base-36 digits. Ids sort by time of creation, and ids made
 * offline in two tabs do not clash.
 */
export function newId() {
  const rnd = new Uint8Array(ID_RANDOM_BYTES);
  const c = globalThis.crypto;
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(rnd);
  else for (let i = 0; i < rnd.length; i++) rnd[i] = Math.floor(Math.random() * 256);
  let r = '';
  for (const b of rnd) r += (b % BASE).toString(BASE);
  return Date.now().toString(BASE) + r;
}
