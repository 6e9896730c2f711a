// eventsource.js is the EventSource transport: the server's messages come
// as one base64 "data:" line each (asked for with EVENTSOURCE_QUERY, since
// an EventSource cannot carry CR bytes), and the client's go as POSTs.
// An EventSource cannot send headers: its GET carries the token as the
// token query parameter, and it cannot tell a refused token (401) from
// any other failure, which the client asks about (see transport.js).

import { EVENTSOURCE_QUERY, TRANSPORT } from '../constants.js';
import { withToken } from '../auth.js';
import { binaryStringToBytes } from '../binstring.js';
import { TransportError } from '../errors.js';
import { postMessage } from './http.js';
import { Transport } from './transport.js';
import { httpURL } from './url.js';

/** EventSourceTransport carries messages over an EventSource and POSTs. */
export class EventSourceTransport extends Transport {
  constructor(opts) {
    super(opts);
    this.name = TRANSPORT.eventsource;
    this.es = null;
  }

  open() {
    return new Promise((resolve, reject) => {
      if (typeof globalThis.EventSource !== 'function') {
        reject(new TransportError('eventsource: not in this browser'));
        return;
      }
      let es;
      try {
        es = new globalThis.EventSource(withToken(httpURL(this.opts, EVENTSOURCE_QUERY), this.opts.token), { withCredentials: true });
      } catch (e) {
        // The message may quote the URL, token and all.
        reject(new TransportError(this.scrub('eventsource: ' + e.message)));
        return;
      }
      this.es = es;
      let opened = false;
      const timer = setTimeout(() => {
        if (opened) return;
        es.close();
        reject(new TransportError('eventsource: open timed out'));
      }, this.opts.openTimeout);
      es.onopen = () => {
        opened = true;
        clearTimeout(timer);
        resolve(this);
      };
      es.onerror = () => {
        // The browser would reconnect on its own, into a new session; the
        // client reconnects instead, so that it can fall back and replay.
        es.close();
        clearTimeout(timer);
        if (!opened) reject(Object.assign(new TransportError('eventsource: failed to open'), { statusUnknown: true }));
        else this.gone('eventsource closed');
      };
      es.onmessage = (ev) => {
        let bytes;
        try {
          bytes = binaryStringToBytes(globalThis.atob(ev.data));
        } catch {
          this.onerror(new Error('eventsource: bad base64 message'));
          return;
        }
        this.onmessage(bytes);
      };
    });
  }

  send(bytes) {
    if (this.isGone || this.closed) return Promise.reject(new TransportError('eventsource closed'));
    return postMessage(this, bytes);
  }

  close() {
    this.closed = true;
    if (this.es) this.es.close();
  }
}
