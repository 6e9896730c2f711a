// transport.js is what every transport shares. A transport carries BERT
// messages (Uint8Array) to and from the Bullet endpoint:
//
//   open()       returns a Promise that resolves once it can carry
//                messages, or rejects with a TransportError: an AuthError
//                when the server refused the token (HTTP 401), and one
//                with `statusUnknown` set when the browser hid why it
//                failed (a WebSocket or EventSource hides the HTTP status)
//   send(bytes)  returns a Promise that rejects when the message could
//                not be handed on (the reply comes by onmessage)
//   close()      closes it for good (an onclose may still follow, which
//                the client ignores for a transport it closed)
//
// and calls the handlers the client sets: onmessage(bytes) per message,
// onerror(error) for a message it could not read, and, once,
// onclose(why, code) when it went away after it was open; code is
// CODE.unauthorized when the server ended it for its token (a WebSocket
// closed with 4401, a poll or POST answered 401).
//
// opts.token, when set, is the token the transport presents on every
// request (auth.js says how); it never changes for a transport: the
// client makes a new one for a new token. Messages a transport makes out
// of foreign text (a browser's error, a server's answer) go through
// scrub, so that the token never shows in an error or a log.
//
// The client knows nothing else of a transport, so a page may pass its
// own class in the transports option (docs/client.md).

import { redact } from '../auth.js';

/** Transport is the base class of the built-in transports. */
export class Transport {
  /** opts: url, frames, openTimeout, pingInterval, channel, token (from the client's options). */
  constructor(opts) {
    this.opts = opts;
    this.closed = false;
    this.isGone = false;
    this.onmessage = () => {};
    this.onerror = () => {};
    this.onclose = () => {};
  }

  // gone reports, once, that the transport went away (code: see above).
  gone(why, code) {
    if (this.isGone) return;
    this.isGone = true;
    this.onclose(why, code);
  }

  // scrub is text with this transport's token taken out.
  scrub(text) {
    return redact(text, this.opts.token);
  }
}
