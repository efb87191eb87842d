/**
 * A replica resyncing from a snapshot, as its leader's `/cluster` (`leader_view`) and `distkv
 * cluster` show it, across processes: leader A holds 64 values of 1 MiB and its log no longer holds
 * seq 1, so a new replica B is answered 410 and reads A's snapshot stream. B is stopped (SIGSTOP)
 * in the middle of it, longer than `pull_wait_ms` + 3 s. Before, A showed B's last pull growing old
 * (`following: false`, nothing else) while B was catching up; now it shows `resyncing: true`, the
 * bytes it has streamed and when it last sent a page, and `distkv cluster` carries it. Once B has
 * loaded the snapshot and pulls again it follows, and the snapshot stays in its leader_view.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LeaderView } from '../../src/http/replica-pulls.js';
import { freePorts } from '../helpers/ports.js';
import { pauseProcess } from '../helpers/process-pause.js';
import { runCli, type ServerProcess, startConfigNode, writeConfig } from '../helpers/server-process.js';

const MIB = 1024 * 1024;
/** VALUES of 1 MiB: a snapshot long enough (16 pages) to be caught in the middle. */
const VALUES = 64;
const PULL_WAIT_MS = 200;

let dir = '';
let A = '';
let B = '';
let config = '';
const running: ServerProcess[] = [];

/** viewOfB reads A's /cluster: B's leader_view. */
async function viewOfB(): Promise<LeaderView> {
  const doc = (await (await fetch(`http://${A}/cluster`)).json()) as {
    shards: { replicas: { address: string; leader_view?: LeaderView }[] }[];
  };
  const v = doc.shards[0]!.replicas.find((r) => r.address === B)?.leader_view;
  assert.ok(v !== undefined, JSON.stringify(doc.shards[0]));
  return v;
}

/** until polls `f` every `everyMs` until it returns a value, for up to `ms`. */
async function until<T>(
  what: string,
  ms: number,
  everyMs: number,
  f: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${String(ms)} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'distkv-replica-resync-'));
  const [pa, pb] = await freePorts(2);
  A = `127.0.0.1:${String(pa)}`;
  B = `127.0.0.1:${String(pb)}`;
  config = writeConfig(
    dir,
    [{ address: A, replicas: [B] }],
    `[storage]\nmemtable_bytes = 8388608\nwal_segment_bytes = 4194304\nwal_retention_bytes = 0\n[replication]\npull_wait_ms = ${String(PULL_WAIT_MS)}\n`,
  );
  await startConfigNode(config, A, join(dir, 'a'), running);
  for (let i = 0; i < VALUES; i += 8)
    await Promise.all(
      Array.from({ length: 8 }, async (_, j) => {
        const r = await fetch(`http://${A}/kv/big-${String(i + j)}`, {
          method: 'PUT',
          body: Buffer.alloc(MIB, (i + j) & 0xff),
        });
        assert.equal(r.status, 204, await r.text());
      }),
    );
});

after(async () => {
  for (const p of running) p.child.kill('SIGCONT');
  await Promise.all(running.map((p) => p.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('a replica resyncing from a snapshot, seen from its leader', () => {
  it('shows resyncing with the bytes streamed while it loads, however old its last pull', async () => {
    const b = await startConfigNode(config, B, join(dir, 'b'), running);
    await until('B reads a snapshot', 30000, 10, async () => {
      const v = await viewOfB();
      return v.resyncing === true ? v : undefined;
    });
    await pauseProcess(b.child);
    try {
      await new Promise((r) => setTimeout(r, PULL_WAIT_MS + 3000 + 500));
      const v = await viewOfB();
      assert.equal(v.resyncing, true, JSON.stringify(v));
      assert.equal(v.following, false);
      assert.ok(v.last_pull_ms_ago! > PULL_WAIT_MS + 3000, JSON.stringify(v));
      assert.ok(v.last_snapshot_ms_ago! > 3000, JSON.stringify(v));
      assert.ok(v.snapshot_bytes! > 0, JSON.stringify(v));
      const c = await runCli(['cluster', '--url', A]);
      assert.equal(c.code, 1, c.stdout + c.stderr);
      assert.match(
        c.stderr,
        new RegExp(
          `not healthy: shard-0: replica ${B} does not answer; its leader last heard a pull of it \\d+ ms ago; it is streaming it a snapshot \\(\\d+\\.\\d MiB, last sent \\d+ ms ago\\)`,
        ),
      );
    } finally {
      b.child.kill('SIGCONT');
    }
  });

  it('follows once it has loaded the snapshot and pulls; the snapshot stays in its leader_view', async () => {
    const v = await until('B follows', 60000, 100, async () => {
      const x = await viewOfB();
      return x.following && x.acked_seq !== undefined ? x : undefined;
    });
    assert.equal(v.resyncing, undefined, JSON.stringify(v));
    assert.ok(v.snapshot_bytes! >= VALUES * MIB, JSON.stringify(v));
    assert.equal(v.lag_seqs, 0, JSON.stringify(v));
  });
});
