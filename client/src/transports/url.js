// url.js builds the URLs the transports open, from the url option.

import { CHANNEL_PARAM } from '../constants.js';

/** absoluteURL resolves path against the page's address; ws turns http(s) into ws(s). */
export function absoluteURL(path, ws = false) {
  const base = globalThis.location ? globalThis.location.href : undefined;
  const u = new URL(path, base);
  if (ws) u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u;
}

/** withQuery appends query ("k=v") to url. */
export function withQuery(url, query) {
  return url + (url.includes('?') ? '&' : '?') + query;
}

/**
 * httpURL is the endpoint's URL for the HTTP transports, plus query. The
 * channel gives this page a session of its own: tabs share the session
 * cookie, and without it two tabs would share one session and split its
 * pushes.
 */
export function httpURL(opts, query) {
  const url = withQuery(opts.url, CHANNEL_PARAM + '=' + encodeURIComponent(opts.channel));
  return absoluteURL(query ? withQuery(url, query) : url).href;
}
