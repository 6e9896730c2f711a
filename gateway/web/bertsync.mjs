// bertsync.mjs is the ES module face of bertsync.js: it runs that script
// (which puts `Bertsync` on the global object and installs itself into a
// global Backbone, if any) and re-exports it. Without a global Backbone,
// call install(Backbone) yourself. See docs/client.md.
import './bertsync.js';

const Bertsync = globalThis.Bertsync;
export default Bertsync;
export const { connect, install, sync, client, reconnect, modelName, newId, encode, decode, decodeAsync, toJS, atom, tuple, Atom, Tuple } = Bertsync;
