/**
 * Disk full, for real: a node's data directory on a 48 MiB loop-mounted ext4 filesystem. Writes go
 * until the disk is full; then writes get 507 DISK_FULL with a JSON error, the node stays up while
 * its compaction fails, reads keep working, every acknowledged write stays readable, writes resume
 * once space is freed, and a restart finds every acknowledged write. With its stores on a worker
 * thread and with `--inline` (on the main thread: there a failed LMDB commit's unheld rejection,
 * src/storage/lmdb-console.ts, ended the process a few seconds after the disk filled).
 * Skipped (with the reason) without root or loop devices.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loopFsUnavailable, mountLoopFs } from '../helpers/loop-fs.js';
import { freePort } from '../helpers/ports.js';
import { runCli, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const unavailable = loopFsUnavailable();

/** FULL_UP_MS is how long the node must stay up and refuse writes while its disk is full. */
const FULL_UP_MS = 8000;

describe('disk full', () => {
  for (const [where, placement] of [
    ['on a worker thread', ['--workers', '1']],
    ['inline', ['--inline']],
  ] as const)
    it(
      `refuses writes with 507, keeps serving reads and acknowledged data, and resumes when space returns (stores ${where})`,
      { skip: unavailable ?? false, timeout: 120000 },
      async () => {
        const dir = tempDir(after);
        const fs = mountLoopFs(dir, 48);
        try {
          await fillAndRecover(dir, fs.mountPoint, placement);
        } finally {
          fs.unmount();
        }
      },
    );
});

async function fillAndRecover(dir: string, mountPoint: string, placement: readonly string[]): Promise<void> {
  const ballast = join(mountPoint, 'ballast');
  writeFileSync(ballast, Buffer.alloc(12 * 1024 * 1024, 1));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const config = writeConfig(
    dir,
    [{ address: `127.0.0.1:${port}` }],
    '[storage]\nmemtable_bytes = 1048576\nwal_segment_bytes = 1048576\nmax_runs = 2\n',
  );
  const args = ['--config', config, '--data-dir', join(mountPoint, 'data'), ...placement];
  const live = { server: await ServerProcess.start(args, `${base}/healthz`, { DISTKV_LOG_LEVEL: 'warn' }) };
  try {
    await fill(live, base, args, ballast);
  } catch (err) {
    // Name what the server said, and never leave it holding the mount (the unmount would hang).
    const { server } = live;
    server.child.kill('SIGKILL');
    await server.waitExit();
    throw new Error(`${(err as Error).message}\nserver output:\n${server.stdout}${server.stderr}`, {
      cause: err,
    });
  }
}

async function fill(
  live: { server: ServerProcess },
  base: string,
  args: string[],
  ballast: string,
): Promise<void> {
  const value = Buffer.alloc(32 * 1024, 7);
  const acked: string[] = [];
  let full: { status: number; body: { error?: { code?: string; message?: string } } } | undefined;
  for (let i = 0; i < 5000 && full === undefined; i++) {
    const r = await fetch(`${base}/kv/k${i}`, { method: 'PUT', body: value });
    if (r.status === 204) acked.push(`k${i}`);
    else full = { status: r.status, body: (await r.json()) as { error?: { code?: string } } };
  }
  assert.ok(full !== undefined, 'the disk filled up');
  assert.equal(full.status, 507, JSON.stringify(full.body));
  assert.equal(full.body.error?.code, 'DISK_FULL');
  assert.ok(acked.length > 50, `writes were acknowledged before the disk filled (${acked.length})`);
  // Compaction fails meanwhile (LMDB cannot commit): the node must stay up and keep refusing.
  for (const t0 = Date.now(); Date.now() - t0 < FULL_UP_MS;) {
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(live.server.child.exitCode, null, 'the node is still running while its disk is full');
    const again = await fetch(`${base}/kv/another`, { method: 'PUT', body: value });
    await again.arrayBuffer();
    assert.equal(again.status, 507, 'writes stay refused while the disk is full');
  }
  // /cluster says so (it showed the leader as healthy, and `distkv cluster` exited 0).
  assert.equal(await leaderError(base), 'DISK_FULL', '/cluster names the leader refusing writes');
  const health = await runCli(['cluster', '--url', base]);
  assert.equal(
    health.code,
    1,
    `distkv cluster exits 1 while the disk is full:\n${health.stdout}${health.stderr}`,
  );
  assert.match(health.stderr, /refuses every write \(DISK_FULL\)/);
  for (const k of [acked[0]!, acked[acked.length - 1]!]) {
    const r = await fetch(`${base}/kv/${k}`);
    assert.equal(r.status, 200, `read of ${k} while the disk is full`);
    assert.equal(Buffer.from(await r.arrayBuffer()).length, value.length);
  }
  rmSync(ballast);
  // Before any write: the disk has room, the next write is taken, and /cluster says so (it showed
  // DISK_FULL until some client wrote, 40 s and more: a health check waiting on it waited forever).
  for (let i = 0; i < 100 && (await leaderError(base)) !== undefined; i++)
    await new Promise((r) => setTimeout(r, 100));
  assert.equal(
    await leaderError(base),
    undefined,
    '/cluster clears DISK_FULL once the disk has room, before a write',
  );
  let resumed = false;
  for (let i = 0; i < 100 && !resumed; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const r = await fetch(`${base}/kv/after-space`, { method: 'PUT', body: 'back' });
    await r.arrayBuffer();
    resumed = r.status === 204;
  }
  assert.ok(resumed, 'writes resume once space is freed');
  for (let i = 0; i < 50 && (await leaderError(base)) !== undefined; i++)
    await new Promise((r) => setTimeout(r, 100));
  assert.equal(await leaderError(base), undefined, '/cluster clears it once writes are taken again');
  acked.push('after-space');
  assert.equal(await live.server.stop(), 0);
  live.server = await ServerProcess.start(args, `${base}/healthz`, { DISTKV_LOG_LEVEL: 'warn' });
  try {
    for (const k of acked) {
      const r = await fetch(`${base}/kv/${k}`);
      await r.arrayBuffer();
      assert.equal(r.status, 200, `acknowledged ${k} survived the restart`);
    }
  } finally {
    await live.server.stop();
  }
}

/** leaderError is the `local_error` /cluster shows for the only shard's leader. */
async function leaderError(base: string): Promise<string | undefined> {
  const r = await fetch(`${base}/cluster`);
  const doc = (await r.json()) as { shards: { leader: { local_error?: string } }[] };
  return doc.shards[0]?.leader.local_error;
}
