/**
 * A node on a full disk does not stop on SIGTERM (found by tester-64).
 *
 * The disk fills while a node runs (507 DISK_FULL, memtable flushes failing: "memtable flush failed;
 * retrying with backoff"). A SIGTERM then logs "shutting down" and "draining: stopped accepting
 * connections", and the process stays, idle, for as long as the disk is full (over 70 s seen; only
 * a second signal ends it). Seen both on the node that filled the disk (one shard and its replica
 * in one process, this file) and on a node restarted on the full disk (four shards; the first stop
 * of that layout sometimes ended). The design promises an exit within 5 s (DESIGN.md section 3; README
 * "Stop it with Ctrl-C (or SIGTERM ...) ... exits 0"). A service manager would wait its whole stop
 * timeout and then SIGKILL it. Skipped (with the reason) without root or loop devices.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loopFsUnavailable, mountLoopFs } from '../helpers/loop-fs.js';
import { freePort } from '../helpers/ports.js';
import { ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const unavailable = loopFsUnavailable();
/** STOP_BOUND_MS is how long a SIGTERM may take to end the process (the design says 5 s). */
const STOP_BOUND_MS = 10000;

/** assertStops sends SIGTERM to `p` and fails when it has not exited within STOP_BOUND_MS. */
async function assertStops(p: ServerProcess, which: string): Promise<void> {
  const t0 = performance.now();
  p.child.kill('SIGTERM');
  const code = await Promise.race([p.waitExit(), sleep(STOP_BOUND_MS).then(() => 'hung')]);
  const ms = Math.round(performance.now() - t0);
  const tail = p.stdout.split('\n').slice(-6).join('\n');
  assert.notEqual(code, 'hung', `${which} still runs ${ms} ms after SIGTERM; last log lines:\n${tail}`);
}

describe('a node on a full disk', () => {
  it(
    'exits on SIGTERM within the stop bound (the one that filled it, and one restarted on it)',
    { skip: unavailable ?? false, timeout: 120000 },
    async () => {
      const dir = tempDir(after);
      const fs = mountLoopFs(dir, 24);
      const procs: ServerProcess[] = [];
      try {
        const port = await freePort();
        const replica = await freePort();
        const base = `http://127.0.0.1:${port}`;
        const config = writeConfig(
          dir,
          [{ address: `127.0.0.1:${port}`, replicas: [`127.0.0.1:${replica}`] }],
          '[storage]\nmemtable_bytes = 1048576\nwal_segment_bytes = 1048576\nwal_retention_bytes = 1048576\n',
        );
        const args = ['--config', config, '--data-dir', join(fs.mountPoint, 'data'), '--workers', '1'];
        const first = await ServerProcess.start(args, `${base}/healthz`, { DISTKV_LOG_LEVEL: 'info' });
        procs.push(first);
        const value = Buffer.alloc(200 * 1024, 7);
        let full = false;
        for (let i = 0; i < 400 && !full; i++) {
          const r = await fetch(`${base}/kv/f${i}`, { method: 'PUT', body: value });
          await r.arrayBuffer();
          full = r.status === 507;
        }
        assert.ok(full, 'the disk filled up (507 DISK_FULL)');
        // Let the failing flushes and the commit log's retry settle into their backoff first.
        await sleep(2000);
        await assertStops(first, 'the node that filled the disk');

        const second = await ServerProcess.start(args, `${base}/healthz`, { DISTKV_LOG_LEVEL: 'info' });
        procs.push(second);
        await sleep(3000);
        await assertStops(second, 'the node restarted on the full disk');
      } finally {
        for (const p of procs) {
          p.child.kill('SIGKILL');
          await p.waitExit();
        }
        fs.unmount();
      }
    },
  );
});
