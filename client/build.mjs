// build.mjs bundles the client's ES modules (src/) with esbuild into the
// two files the gateway embeds and serves:
//
//   gateway/web/bertsync.js   a plain <script> (an IIFE) that sets the
//                             global `Bertsync` (src/script.js), and hands
//                             it to CommonJS (module.exports) and AMD
//                             (define) loaders where there are some
//   gateway/web/bertsync.mjs  an ES module exporting the API (src/index.js)
//
// Both are committed, so that building the Go binary needs no Node.js.
//
//   node build.mjs            writes them
//   node build.mjs --check    builds into a temporary directory and exits 1,
//                             naming each file, when the committed ones differ
import * as esbuild from 'esbuild';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const web = join(repo, 'gateway', 'web');
const version = JSON.parse(await readFile(join(here, 'package.json'), 'utf8')).version;

const header = (what) =>
  `/*! bertsync ${version} (MIT): ${what}.\n` +
  ' * Built from client/src by client/build.mjs with esbuild: do not edit,\n' +
  ' * change client/src and run `npm run build` in client/. Documentation: docs/client.md. */';

// The global that esbuild's IIFE makes holds the entry's exports; the
// footer puts the facade itself there, then offers it to module loaders.
const scriptFooter = [
  'Bertsync = Bertsync.default;',
  'if (typeof module === "object" && module && module.exports) module.exports = Bertsync;',
  'else if (typeof define === "function" && define.amd) define([], function () { return Bertsync; });'
].join('\n');

const builds = [
  {
    file: 'bertsync.js',
    options: {
      entryPoints: [join(here, 'src', 'script.js')],
      format: 'iife',
      globalName: 'Bertsync',
      banner: { js: header('Backbone.sync over BERT, as a plain script setting the global `Bertsync`') },
      footer: { js: scriptFooter }
    }
  },
  {
    file: 'bertsync.mjs',
    options: {
      entryPoints: [join(here, 'src', 'index.js')],
      format: 'esm',
      banner: { js: header('Backbone.sync over BERT, as an ES module') }
    }
  }
];

// build writes every file into dir and returns their paths.
async function build(dir) {
  const out = [];
  for (const b of builds) {
    const outfile = join(dir, b.file);
    await esbuild.build({
      ...b.options,
      bundle: true,
      outfile,
      target: 'es2020', // BigInt
      platform: 'neutral',
      charset: 'ascii',
      legalComments: 'inline',
      logLevel: 'warning'
    });
    out.push(outfile);
  }
  return out;
}

async function check() {
  const dir = await mkdtemp(join(tmpdir(), 'bertsync-client-'));
  try {
    const stale = [];
    for (const fresh of await build(dir)) {
      const name = relative(dir, fresh);
      const committed = join(web, name);
      const want = await readFile(fresh);
      const have = await readFile(committed).catch(() => null);
      if (!have || !have.equals(want)) stale.push(relative(repo, committed));
    }
    if (stale.length) {
      for (const f of stale) console.error(`${f} is stale: run \`npm run build\` in client/ and commit it`);
      process.exitCode = 1;
      return;
    }
    console.log(`${builds.map((b) => 'gateway/web/' + b.file).join(', ')}: up to date`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--check')) {
  await check();
} else {
  for (const f of await build(web)) {
    const size = (await readFile(f)).length;
    console.log(`wrote ${relative(repo, f)} (${size} bytes)`);
  }
}
