// http.js is what the two HTTP transports share: a message to the server
// is a POST to the endpoint, whose answer may carry the reply. POSTs
// carry the token as `Authorization: Bearer`.

import {
  FRAMES, HTTP_NO_CONTENT, HTTP_NOT_FOUND, HTTP_SERVER_ERROR, HTTP_UNAUTHORIZED, MESSAGE_EXCERPT, PING_TEXT
} from '../constants.js';
import { authHeaders, redact } from '../auth.js';
import { binaryStringToBytes, bytesToBinaryString } from '../binstring.js';
import { AuthError, TransportError } from '../errors.js';
import { httpURL } from './url.js';

/**
 * postMessage sends one message as a POST: raw BERT bytes, or with
 * frames: 'text' the byte-per-char binary string BERT-JS sends (the
 * browser puts it on the wire as UTF-8). A 200 answer carries the reply,
 * a 204 none (it then comes by the poll or the stream). A network failure,
 * a 404 or a 5xx ends the transport; a 401 ends it too, for its token
 * (the promise rejects with an AuthError).
 */
export async function postMessage(transport, bytes) {
  const text = transport.opts.frames === FRAMES.text;
  try {
    let res;
    try {
      res = await globalThis.fetch(httpURL(transport.opts), {
        method: 'POST',
        body: text ? bytesToBinaryString(bytes) : bytes,
        headers: authHeaders(transport.opts.token, { 'Content-Type': text ? 'text/plain; charset=utf-8' : 'application/octet-stream' }),
        credentials: 'same-origin',
        cache: 'no-store'
      });
    } catch (e) {
      throw new TransportError(transport.scrub('POST: ' + e.message));
    }
    if (res.status === HTTP_NO_CONTENT) return;
    if (!res.ok) {
      if (res.status === HTTP_UNAUTHORIZED) throw new AuthError(await refusal(transport.opts.token, 'POST', res));
      if (res.status >= HTTP_SERVER_ERROR || res.status === HTTP_NOT_FOUND) throw new TransportError('POST: HTTP ' + res.status);
      const t = await res.text();
      transport.onerror(new Error(transport.scrub('POST: HTTP ' + res.status + ': ' + t.slice(0, MESSAGE_EXCERPT))));
      return;
    }
    await deliverBody(transport, res);
  } catch (e) {
    if (e.transient) transport.gone(e.message, e.code);
    throw e;
  }
}

/**
 * refusal is the message of an AuthError for a 401 answer: what the
 * request was, and the server's reason (its text body), without the token.
 */
export async function refusal(token, what, res) {
  let reason = '';
  try {
    reason = (await res.text()).trim().slice(0, MESSAGE_EXCERPT);
  } catch {
    // No body: the status says it.
  }
  return redact(what + ': HTTP ' + res.status + (reason ? ': ' + reason : ''), token);
}

/**
 * tokenRefused asks the endpoint whether it refuses opts.token, for when a
 * WebSocket or EventSource failed to open and the browser hid the status:
 * it POSTs "ping" (answered at once, as the long-poll transport's open
 * does) with the token, and resolves with the message of an AuthError when
 * the answer is 401, or null otherwise (accepted, or no answer at all).
 */
export async function tokenRefused(opts) {
  let res;
  try {
    res = await globalThis.fetch(httpURL(opts), {
      method: 'POST',
      body: PING_TEXT,
      headers: authHeaders(opts.token, { 'Content-Type': 'text/plain; charset=utf-8' }),
      credentials: 'same-origin',
      cache: 'no-store'
    });
  } catch {
    return null;
  }
  if (res.status === HTTP_UNAUTHORIZED) return refusal(opts.token, 'token check', res);
  await res.arrayBuffer().catch(() => {});
  return null;
}

/**
 * deliverBody hands a poll's or POST's answer on as one message: raw bytes
 * (application/octet-stream) or a byte-per-char binary string (text/*).
 */
export async function deliverBody(transport, res) {
  const buf = await res.arrayBuffer();
  if (!buf.byteLength) return;
  let bytes = new Uint8Array(buf);
  if (/^text\//i.test(res.headers.get('Content-Type') || '')) {
    try {
      bytes = binaryStringToBytes(new TextDecoder().decode(bytes));
    } catch (e) {
      transport.onerror(e);
      return;
    }
  }
  transport.onmessage(bytes);
}
