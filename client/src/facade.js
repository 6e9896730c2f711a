// facade.js makes the object the plain-script build puts on the page as
// `Bertsync`: the codec, and one default Client that the page's
// Backbone.sync goes through, made when first needed (by connect(), or by
// a sync call, client() or install's methods before it) and started only
// by connect(). Each call of createBertsync makes a facade of its own:
// nothing here is shared between them.

import { STATE, VERSION } from './constants.js';
import { createSync, install, modelName } from './backbone.js';
import { binaryStringToBytes, bytesToBinaryString } from './binstring.js';
import { Client } from './client.js';
import { decode, decodeAsync, toJS } from './decode.js';
import { encode } from './encode.js';
import { Emitter } from './events.js';
import { newId } from './ids.js';
import { jwtClaims } from './jwt.js';
import { Atom, BitBinary, CodecError, Tuple, atom, tuple } from './terms.js';

/**
 * createBertsync returns a facade: an Emitter that repeats every event of
 * its current client, with
 *
 *   connect(options)  replaces the client by a new one with options and
 *                     connects it; the old one's queued writes and
 *                     subscriptions go on in the new one. Returns it.
 *   disconnect()      disconnects the client (connect() starts anew)
 *   client()          the client (made, unconnected, if there is none)
 *   install(Backbone) binds Backbone (default: the global one) to it
 *   sync              the Backbone.sync install sets
 *   reconnect()       retries at once while offline
 *   setToken(token)   the client's setToken: the token from now on
 *   state, pending, transport   the client's, read-only
 *
 * and the codec and helpers (encode, decode, ..., jwtClaims, Client).
 */
export function createBertsync() {
  const api = new Emitter();
  let client = null;
  const forward = (name, ...args) => api.trigger(name, ...args);

  const make = (options) => {
    const c = new Client(options);
    c.on('all', forward);
    return c;
  };
  const getClient = () => {
    if (!client) client = make();
    return client;
  };
  const sync = createSync(getClient);

  Object.assign(api, {
    version: VERSION,
    connect(options) {
      const old = client;
      client = make(options);
      if (old) {
        old.close();
        old.off('all', forward);
        client.takeOver(old);
      }
      return client.connect();
    },
    disconnect() {
      if (client) client.disconnect();
    },
    client: getClient,
    install(Backbone) {
      return install(Backbone || globalThis.Backbone, getClient, sync);
    },
    sync,
    reconnect() {
      if (client) client.reconnectNow();
    },
    setToken(token) {
      getClient().setToken(token);
    },
    jwtClaims,
    modelName,
    newId,
    encode,
    decode,
    decodeAsync,
    toJS,
    atom,
    tuple,
    Atom,
    Tuple,
    BitBinary,
    CodecError,
    bytesToBinaryString,
    binaryStringToBytes,
    Client
  });
  Object.defineProperties(api, {
    state: { get: () => (client ? client.state : STATE.offline), enumerable: true },
    pending: { get: () => (client ? client.pending : 0), enumerable: true },
    transport: { get: () => (client && client.transport ? client.transport.name : null), enumerable: true }
  });
  return api;
}
