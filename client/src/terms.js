// terms.js is the term model the codec reads into and writes from, for the
// Erlang types JavaScript has no value for: atoms, tuples and bitstrings.
// Everything else maps to plain JavaScript (see encode.js and decode.js).

/** Atom is an Erlang atom; its text is `name`. */
export class Atom {
  constructor(name) {
    this.name = String(name);
  }

  toString() {
    return this.name;
  }

  toJSON() {
    return this.name;
  }
}

/** Tuple is an Erlang tuple; its elements are `items`. */
export class Tuple {
  constructor(items) {
    this.items = items || [];
  }

  get length() {
    return this.items.length;
  }

  toJSON() {
    return this.items;
  }
}

/** BitBinary is a bitstring whose last byte holds only `bits` bits. */
export class BitBinary {
  constructor(data, bits) {
    this.data = data;
    this.bits = bits;
  }
}

/** atom returns the atom named name. */
export function atom(name) {
  return new Atom(name);
}

/** tuple returns the tuple of its arguments. */
export function tuple(...items) {
  return new Tuple(items);
}

/**
 * CodecError is thrown for bytes that are not a term the codec reads, or a
 * value it cannot write; `offset` is where in the bytes, when known.
 */
export class CodecError extends Error {
  constructor(message, offset) {
    super('bert: ' + message + (offset !== undefined ? ' at offset ' + offset : ''));
    this.name = 'CodecError';
    this.offset = offset;
  }
}

/** isPlainObject tells an object literal (or Object.create(null)) from instances of classes. */
export function isPlainObject(v) {
  if (v === null || typeof v !== 'object') return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}
