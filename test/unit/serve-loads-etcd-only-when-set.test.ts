/**
 * `distkv serve` loads etcd's client (etcd3, with gRPC and protobufjs) only when `[coordination]
 * etcd` is set. Before, src/server/node.ts imported it for every node: ~40% of the CPU of loading
 * the serve command (~100 ms of the main thread's CPU to serve, of ~900, on a loaded 2-CPU machine),
 * on the path of every restart after a crash (docs/performance.md, "Restart after a crash, idle
 * and under load").
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const SERVE = new URL('../../src/cli/serve.js', import.meta.url).href;
/** SERVE_RUN is what serve.js imports once the config is checked: it imports the server. */
const SERVE_RUN = new URL('../../src/cli/serve-run.js', import.meta.url).href;
const NODE = new URL('../../src/server/node.js', import.meta.url).href;

// A module hook (run in the hooks thread) that refuses to resolve etcd3, so importing anything
// that loads it fails naming it.
const REFUSE_ETCD = `data:text/javascript,${encodeURIComponent(
  `export async function resolve(spec, ctx, next) {
    if (spec === 'etcd3') throw new Error('etcd3 was loaded, imported by ' + ctx.parentURL);
    return next(spec, ctx);
  }`,
)}`;

/** importWithoutEtcd imports `url` in a child whose module hook refuses etcd3; returns its stderr, '' when it loaded. */
function importWithoutEtcd(url: string): string {
  const script = `import { register } from 'node:module';
register(${JSON.stringify(REFUSE_ETCD)});
await import(${JSON.stringify(url)});`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return r.status === 0 ? '' : `exit ${String(r.status)}: ${r.stderr}`;
}

test('the serve command and the node module load without etcd3 (loaded only where [coordination] etcd is set)', () => {
  assert.equal(importWithoutEtcd(NODE), '');
  assert.equal(importWithoutEtcd(SERVE), '');
  assert.equal(importWithoutEtcd(SERVE_RUN), '');
});

test('the hook refuses etcd3 where it is imported: the coordinator module fails to load without it', () => {
  assert.match(
    importWithoutEtcd(new URL('../../src/coordination/etcd-coordinator.js', import.meta.url).href),
    /etcd3 was loaded/,
  );
});
