// index.js is the entry of the ES module build, /bertsync.mjs, and the
// package's API: every module's exports, and no side effect on import:
// nothing is made, connected or installed until the importer says so.
//
//   import { Client, install } from '/bertsync.mjs';
//   const client = new Client({ url: '/bullet' });
//   install(Backbone, client);
//   client.connect();

export * from './constants.js';
export { Atom, Tuple, BitBinary, CodecError, atom, tuple } from './terms.js';
export { encode } from './encode.js';
export { decode, decodeAsync, toJS } from './decode.js';
export { bytesToBinaryString, binaryStringToBytes } from './binstring.js';
export { encodeRequest, parseMessage, replyError } from './protocol.js';
export { AuthError, BertsyncError, TransportError } from './errors.js';
export { jwtClaims, jwtExpiry, renewDelay } from './jwt.js';
export { Emitter } from './events.js';
export { newId } from './ids.js';
export { ReconnectTimer, backoff, jitter } from './timer.js';
export { memoryStorage } from './storage.js';
export { DocumentCache } from './cache.js';
export { OfflineQueue } from './queue.js';
export { Subscriptions } from './subscriptions.js';
export { isRecovered, overlayPending, parseSubscribeReply, resumeProps, sameEpoch, verdict } from './streams.js';
export { Transport, WebSocketTransport, EventSourceTransport, LongPollTransport, TRANSPORTS } from './transports/index.js';
export { upload } from './upload.js';
export { Client } from './client.js';
export { createSync, install, modelName } from './backbone.js';
export { createBertsync } from './facade.js';
