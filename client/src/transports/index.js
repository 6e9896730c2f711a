// index.js names the built-in transports, in the order the client tries
// them by default.

import { TRANSPORT } from '../constants.js';
import { EventSourceTransport } from './eventsource.js';
import { LongPollTransport } from './longpoll.js';
import { WebSocketTransport } from './websocket.js';

export { Transport } from './transport.js';
export { WebSocketTransport, EventSourceTransport, LongPollTransport };

/** TRANSPORTS maps the names of the transports option to their classes. */
export const TRANSPORTS = Object.freeze({
  [TRANSPORT.websocket]: WebSocketTransport,
  [TRANSPORT.eventsource]: EventSourceTransport,
  [TRANSPORT.longpoll]: LongPollTransport
});

/**
 * resolveTransports turns the transports option (names, or classes a page
 * brings, each with a static or instance `name`) into classes, in order.
 */
export function resolveTransports(list) {
  return list.map((t) => {
    if (typeof t === 'function') return t;
    if (!Object.prototype.hasOwnProperty.call(TRANSPORTS, t)) throw new Error('bertsync: unknown transport ' + t);
    return TRANSPORTS[t];
  });
}
