// binstring.js converts between bytes and "binary strings", the form the
// text transports carry a BERT term in (bullet.js and BERT-JS do): each
// character U+0000..U+00FF stands for one byte.

import { LATIN1_MAX, STRING_CHUNK } from './constants.js';
import { CodecError } from './terms.js';

/** bytesToBinaryString returns the string whose character codes are bytes. */
export function bytesToBinaryString(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += STRING_CHUNK) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + STRING_CHUNK));
  }
  return s;
}

/**
 * binaryStringToBytes returns the bytes a binary string stands for; a
 * character above U+00FF is a CodecError naming its index.
 */
export function binaryStringToBytes(s) {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > LATIN1_MAX) throw new CodecError('character U+' + c.toString(16) + ' above U+00FF in a binary string', i);
    b[i] = c;
  }
  return b;
}
