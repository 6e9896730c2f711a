// auth.js is how a token travels (docs/client.md, Authentication): as
// `Authorization: Bearer` where the client sets headers (fetch: POSTs,
// uploads), as the `token` query parameter where a browser cannot
// (WebSocket, EventSource, long-poll GETs). And how it is kept out of the
// messages the client makes.

import { REDACTED, TOKEN_PARAM } from './constants.js';

/** withToken returns url with the token query parameter, or url itself without a token. */
export function withToken(url, token) {
  if (!token) return url;
  return url + (url.includes('?') ? '&' : '?') + TOKEN_PARAM + '=' + encodeURIComponent(token);
}

/** authHeaders returns headers plus `Authorization: Bearer token` (headers alone without a token). */
export function authHeaders(token, headers = {}) {
  if (!token) return headers;
  return Object.assign({}, headers, { Authorization: 'Bearer ' + token });
}

/**
 * redact replaces token, as it is and URL-encoded, by REDACTED in text: a
 * browser's error message may quote the URL it failed to open, and the
 * client's errors and events end up in logs.
 */
export function redact(text, token) {
  let s = String(text);
  if (!token) return s;
  for (const form of new Set([token, encodeURIComponent(token)])) s = s.split(form).join(REDACTED);
  return s;
}
