// jwt.js reads a JWT's claims, only to know when to renew it ahead of its
// expiry. It verifies nothing: the server does that, and a token the
// client cannot read is simply never renewed ahead (only when refused).

import { MS_PER_SECOND } from './constants.js';
import { binaryStringToBytes } from './binstring.js';

const BASE64_BLOCK = 4;

/**
 * jwtClaims returns the payload of a JWT (header.payload.signature, each
 * base64url) as an object, or null when token is not one.
 */
export function jwtClaims(token) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    let b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % BASE64_BLOCK) b64 += '=';
    const json = new TextDecoder('utf-8', { fatal: true }).decode(binaryStringToBytes(globalThis.atob(b64)));
    const claims = JSON.parse(json);
    return claims !== null && typeof claims === 'object' && !Array.isArray(claims) ? claims : null;
  } catch {
    return null;
  }
}

/** jwtExpiry returns when a JWT expires (its exp, in ms since the epoch), or null when it does not say. */
export function jwtExpiry(token) {
  const claims = jwtClaims(token);
  if (!claims || typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) return null;
  return claims.exp * MS_PER_SECOND;
}

/**
 * renewDelay returns how many ms from now to renew token: before before
 * its exp, or halfway there when less than twice before is left, so that a
 * short-lived token is not renewed over and over at once. It is null when
 * there is nothing to schedule: not a JWT with exp, or already expired
 * (the server refuses it, and that renews it).
 */
export function renewDelay(token, now, before) {
  const exp = jwtExpiry(token);
  if (exp === null || exp <= now) return null;
  const left = exp - now;
  return Math.max(0, left - Math.min(before, left / 2));
}
