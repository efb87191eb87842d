#!/usr/bin/env node
// The bundle `bin/distkv.js` runs: distkv's modules (not node_modules) bundled by esbuild into
// bundle/, one entry per thread's start (the command, the held-signals hook, the shard and load
// generator workers) and one chunk per module group the lazy imports share (`splitting`), so each
// command still loads only what it runs (test/unit/cli-start-modules). A server's start kept each
// thread busy ~490 ms, most of it Node 20's ES module loader (~240 modules on the main thread, ~160
// in each worker: session 74's profile); bundled, a start costs ~0.3 s of CPU less (1.12-1.54 s →
// 0.88-1.18 s; docs/performance.md, "Session 75"). tsc's dist/ stays what the library's exports
// and the tests that run code in their own process import; the servers and commands tests spawn
// run bundle/, so after editing src/ run `npm run build`, not only tsc. bundle/ keeps dist/'s
// layout (bundle/src/cli/, bundle/workers/) so the paths the code builds from import.meta.url (the
// worker entries, config/, package.json) resolve alike.
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';

rmSync('bundle', { recursive: true, force: true });
const { metafile } = await build({
  entryPoints: [
    'src/cli/main.ts',
    'src/cli/held-signals.ts',
    'workers/shard-worker.ts',
    'workers/loadgen-worker.ts',
  ],
  outdir: 'bundle',
  outbase: '.',
  // Every shared chunk beside the command's entry, three levels below the root as the modules that
  // build paths from import.meta.url are (src/cli/serve.ts, src/server/node.ts, src/loadgen/loadgen.ts).
  chunkNames: 'src/cli/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
  metafile: true,
});
// bundle/modules.json names the modules each output file holds ("bundle/src/cli/main.js":
// ["src/cli/main.ts", ...]): which of distkv's modules a command loaded, read from the files it
// loaded (test/unit/cli-start-modules).
const modules = Object.fromEntries(
  Object.entries(metafile.outputs)
    .filter(([file]) => file.endsWith('.js'))
    .map(([file, out]) => [file, Object.keys(out.inputs)]),
);
writeFileSync('bundle/modules.json', JSON.stringify(modules, null, 1));
