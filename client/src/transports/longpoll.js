// longpoll.js is the long-polling transport: one GET at a time is held by
// the server until it has a message (200) or times out (204), and the
// client's messages go as POSTs. The polls carry the token as the token
// query parameter, like the EventSource's GET (a header would make every
// cross-origin poll a preflighted request), the POSTs as
// `Authorization: Bearer`.

import { CODE, HTTP_NO_CONTENT, HTTP_UNAUTHORIZED, PING_TEXT, POLL_BUSTER, TRANSPORT } from '../constants.js';
import { authHeaders, withToken } from '../auth.js';
import { AuthError, TransportError } from '../errors.js';
import { deliverBody, postMessage, refusal } from './http.js';
import { Transport } from './transport.js';
import { httpURL } from './url.js';

/** LongPollTransport carries messages over long-polled GETs and POSTs. */
export class LongPollTransport extends Transport {
  constructor(opts) {
    super(opts);
    this.name = TRANSPORT.longpoll;
    this.abort = null;
  }

  // open POSTs "ping" first: a poll is held until the server has a
  // message, so it cannot tell that the server is there, and the session
  // cookie would come only with its answer, so POSTs made meanwhile would
  // each start a session of their own. The ping, answered at once, does
  // both, and tells a refused token (401) apart.
  async open() {
    let res;
    try {
      res = await globalThis.fetch(httpURL(this.opts), {
        method: 'POST',
        body: PING_TEXT,
        headers: authHeaders(this.opts.token, { 'Content-Type': 'text/plain; charset=utf-8' }),
        credentials: 'same-origin',
        cache: 'no-store'
      });
      if (res.ok) await res.text();
    } catch (e) {
      throw new TransportError(this.scrub('long-poll: ' + e.message));
    }
    if (res.status === HTTP_UNAUTHORIZED) throw new AuthError(await refusal(this.opts.token, 'long-poll', res));
    if (!res.ok) throw new TransportError('long-poll: HTTP ' + res.status);
    this.poll();
    return this;
  }

  async poll() {
    while (!this.closed && !this.isGone) {
      this.abort = new AbortController();
      try {
        const res = await globalThis.fetch(withToken(httpURL(this.opts, POLL_BUSTER + '=' + Date.now()), this.opts.token), {
          method: 'GET',
          credentials: 'same-origin',
          cache: 'no-store',
          signal: this.abort.signal
        });
        if (res.status === HTTP_NO_CONTENT) continue;
        if (res.status === HTTP_UNAUTHORIZED) throw new AuthError(await refusal(this.opts.token, 'long-poll', res));
        if (!res.ok) throw new TransportError('long-poll: HTTP ' + res.status);
        await deliverBody(this, res);
      } catch (e) {
        if (this.closed) return;
        // A session whose token expired is answered 401 at its next poll.
        if (e instanceof AuthError) this.gone(e.message, CODE.unauthorized);
        else this.gone(this.scrub('long-poll: ' + e.message));
        return;
      }
    }
  }

  send(bytes) {
    if (this.isGone || this.closed) return Promise.reject(new TransportError('long-poll closed'));
    return postMessage(this, bytes);
  }

  close() {
    this.closed = true;
    if (this.abort) this.abort.abort();
  }
}
