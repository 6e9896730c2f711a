// upload.js sends a file the way the first seed does: a multipart PUT of
// one "file" part to the REST URL of the document (docs/rest.md), with the
// token as `Authorization: Bearer`. It needs the network: a File cannot
// wait in the offline queue.

import { CODE, UPLOAD_PART } from './constants.js';
import { authHeaders, redact } from './auth.js';
import { BertsyncError } from './errors.js';
import { absoluteURL } from './transports/url.js';

/**
 * upload PUTs file (named fileName, if given) to apiRoot/model/id,
 * presenting token when given, and resolves with the server's JSON answer
 * ({file: {name, size, type, url}}); it rejects with a BertsyncError
 * carrying the server's code and the HTTP status (`status`), or
 * `unavailable` when the request could not be made.
 */
export async function upload(apiRoot, model, id, file, fileName, token = null) {
  const form = new FormData();
  if (fileName) form.append(UPLOAD_PART, file, fileName);
  else form.append(UPLOAD_PART, file);
  const url = absoluteURL(apiRoot.replace(/\/$/, '') + '/' + encodeURIComponent(model) + '/' + encodeURIComponent(id)).href;
  let res;
  try {
    res = await globalThis.fetch(url, { method: 'PUT', body: form, headers: authHeaders(token), credentials: 'same-origin' });
  } catch (e) {
    throw new BertsyncError(CODE.unavailable, redact('upload failed: ' + e.message, token));
  }
  const text = await res.text();
  let body;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { error: text };
  }
  if (!res.ok) {
    const err = body && body.error;
    const e = new BertsyncError(
      (err && err.code) || 'http_' + res.status,
      redact((err && err.message) || (typeof err === 'string' ? err : 'upload failed: HTTP ' + res.status), token)
    );
    e.status = res.status;
    throw e;
  }
  return body;
}
