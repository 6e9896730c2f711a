// websocket.js is the WebSocket transport: binary frames by default, or
// with frames: 'text' text frames holding one character per byte, the way
// BERT-JS and bullet.js send; it reads both kinds. It pings every
// pingInterval and gives up on a connection silent for PING_MISSES
// intervals, which a half-open TCP connection would otherwise never tell.
// A browser's WebSocket sends no headers of the page's: the handshake
// carries the token as the token query parameter. A refused handshake
// (401) looks to the page like any other failure (code 1006), which the
// client asks about (see transport.js); a close with 4401 is the server
// ending the session for its token.

import {
  CODE, FRAMES, MAGIC, MESSAGE_EXCERPT, PING_MISSES, PING_TEXT, PONG_TEXT, TRANSPORT, WS_CLOSE_UNAUTHORIZED, WS_OPEN
} from '../constants.js';
import { withToken } from '../auth.js';
import { binaryStringToBytes, bytesToBinaryString } from '../binstring.js';
import { TransportError } from '../errors.js';
import { Transport } from './transport.js';
import { absoluteURL } from './url.js';

/** WebSocketTransport carries messages over one WebSocket. */
export class WebSocketTransport extends Transport {
  constructor(opts) {
    super(opts);
    this.name = TRANSPORT.websocket;
    this.ws = null;
    this.pinger = null;
    this.lastHeard = 0;
  }

  open() {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new globalThis.WebSocket(withToken(absoluteURL(this.opts.url, true).href, this.opts.token));
      } catch (e) {
        // The message may quote the URL, token and all.
        reject(new TransportError(this.scrub('websocket: ' + e.message)));
        return;
      }
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      let opened = false;
      const timer = setTimeout(() => {
        if (opened) return;
        ws.close();
        reject(new TransportError('websocket: open timed out'));
      }, this.opts.openTimeout);
      ws.onopen = () => {
        opened = true;
        clearTimeout(timer);
        this.startPing();
        resolve(this);
      };
      ws.onerror = () => {
        // onclose follows, with the code.
      };
      ws.onclose = (ev) => {
        clearTimeout(timer);
        this.stopPing();
        if (!opened) {
          reject(Object.assign(new TransportError('websocket: closed before open (' + ev.code + ')'), { statusUnknown: true }));
          return;
        }
        const why = this.scrub('websocket closed (' + ev.code + (ev.reason ? ' ' + ev.reason : '') + ')');
        this.gone(why, ev.code === WS_CLOSE_UNAUTHORIZED ? CODE.unauthorized : undefined);
      };
      ws.onmessage = (ev) => this.receive(ev.data);
    });
  }

  receive(data) {
    this.lastHeard = Date.now();
    if (data instanceof ArrayBuffer) {
      this.onmessage(new Uint8Array(data));
      return;
    }
    const s = String(data);
    if (s.charCodeAt(0) === MAGIC) {
      let bytes;
      try {
        bytes = binaryStringToBytes(s);
      } catch (e) {
        this.onerror(e);
        return;
      }
      this.onmessage(bytes);
    } else if (s !== PONG_TEXT) {
      this.onerror(new Error(this.scrub('server said: ' + s.slice(0, MESSAGE_EXCERPT))));
    }
  }

  startPing() {
    this.lastHeard = Date.now();
    const every = this.opts.pingInterval;
    if (!every) return;
    this.pinger = setInterval(() => {
      if (Date.now() - this.lastHeard > PING_MISSES * every) {
        this.close();
        this.gone('websocket: no answer to ping');
        return;
      }
      if (this.ws.readyState === WS_OPEN) this.ws.send(PING_TEXT);
    }, every);
  }

  stopPing() {
    clearInterval(this.pinger);
    this.pinger = null;
  }

  send(bytes) {
    if (!this.ws || this.ws.readyState !== WS_OPEN) return Promise.reject(new TransportError('websocket not open'));
    this.ws.send(this.opts.frames === FRAMES.text ? bytesToBinaryString(bytes) : bytes);
    return Promise.resolve();
  }

  close() {
    this.stopPing();
    this.closed = true;
    if (this.ws) {
      try {
        this.ws.close();
      } catch {
        // Already closed.
      }
    }
  }
}
