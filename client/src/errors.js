// errors.js holds the errors the client gives callers. Each has a `code`
// (docs/protocol.md's codes, or `unavailable` when the network is at
// fault) so that callers branch on it, not on the message.

import { CODE } from './constants.js';

/** BertsyncError is a request the server refused, or one the client could not make. */
export class BertsyncError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'BertsyncError';
    this.code = code;
  }
}

/**
 * TransportError is a connection that failed or went away. It is
 * `transient`: the same request may succeed on the next connection.
 */
export class TransportError extends Error {
  constructor(message) {
    super(message);
    this.name = 'TransportError';
    this.code = CODE.unavailable;
    this.transient = true;
  }
}

/**
 * AuthError is a connection the server refused for its token: an HTTP 401
 * (a handshake, a poll, a POST), or a WebSocket closed with 4401 when the
 * token expired. It is a TransportError (transient: a queued write stays
 * queued and goes out once a token is accepted) with the code
 * `unauthorized`. A request the server answers
 * `{sync, error, {unauthorized, Msg}}` is a BertsyncError instead: a
 * refusal of that one request.
 */
export class AuthError extends TransportError {
  constructor(message) {
    super(message);
    this.name = 'AuthError';
    this.code = CODE.unauthorized;
  }
}

/** isAuthError tells a connection refused for its token (an AuthError, or one like it from a page's own transport). */
export function isAuthError(err) {
  return Boolean(err && err.transient && err.code === CODE.unauthorized);
}

/** isRetryable tells the failures after which a queued write is sent again rather than dropped. */
export function isRetryable(err) {
  return Boolean(err && (err.transient || err.code === CODE.unavailable || err.code === CODE.rateLimited));
}
