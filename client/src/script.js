// script.js is the entry of the plain-script build, /bertsync.js: the one
// place a default instance is made. It puts a facade (facade.js) on the
// page as the global `Bertsync`, and binds a global Backbone, if the page
// loaded one first, so that
//
//   <script src="/bertsync.js"></script>
//   <script>Bertsync.connect();</script>
//
// is all a Backbone page needs. (The build also hands the facade to
// CommonJS and AMD loaders: see build.mjs.)

import { createBertsync } from './facade.js';

const Bertsync = createBertsync();
if (globalThis.Backbone) Bertsync.install(globalThis.Backbone);

export default Bertsync;
