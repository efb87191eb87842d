/**
 * test/e2e/replica-foreign-history.test.ts with a replica of real size: its log was compacted past
 * seq 1 (a small `wal_retention_bytes`, enough writes), so when its leader answers it as a fork at
 * 0 (another history id: docs/wal-format.md, "History ids") its log no longer holds the records
 * it must save. Before, the save threw CORRUPTION at every pull and the replica was kept as it
 * was, `disconnected` for good, serving the other history's keys. Now it saves its live keys
 * (all of them: every one is above a fork at 0) to `….keys-<count>.log`, which `distkv diverged`
 * reads, and resyncs: it holds exactly its leader's keys.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { runCli, type ServerProcess, startConfigNode, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const PAD = 'x'.repeat(400);
const OLD_KEYS = 600;
const NEW_KEYS = 700;

/** put writes one key at `node` and checks it was acknowledged (`q`: e.g. a w=1 wait). */
/**
 * putAll runs `put(0..n-1)` eight at a time: the log holds the same n records (seqs 1..n, one key
 * each) as when they went one after the other, in a fraction of the round trips' time.
 */
async function putAll(n: number, put: (i: number) => Promise<void>): Promise<void> {
  await Promise.all(
    Array.from({ length: 8 }, async (_, lane) => {
      for (let i = lane; i < n; i += 8) await put(i);
    }),
  );
}

async function put(node: string, key: string, q = ''): Promise<void> {
  const r = await fetch(`http://${node}/kv/${key}${q}`, {
    method: 'PUT',
    body: `${key}${PAD}`,
    signal: AbortSignal.timeout(10000),
  });
  assert.equal(r.status, 204, `PUT ${key} at ${node}: ${r.status} ${await r.text()}`);
}

/** keysAt lists the keys a node serves from its own store (a replica's address serves its replica). */
async function keysAt(node: string): Promise<string[]> {
  const keys: string[] = [];
  let next = '';
  for (let page = 0; page < 100; page++) {
    const r = await fetch(`http://${node}/kv?prefix=&limit=1000${next === '' ? '' : `&after=${next}`}`, {
      signal: AbortSignal.timeout(10000),
    });
    if (r.status !== 200) return [`HTTP ${r.status}`];
    const body = (await r.json()) as { items: { key: string }[]; next?: string | null };
    keys.push(...body.items.map((i) => i.key));
    if (typeof body.next !== 'string' || body.next === '') break;
    next = encodeURIComponent(body.next);
  }
  return keys.sort();
}

describe('a replica of another history whose log was compacted', { timeout: 240000 }, () => {
  const dir = tempDir(after, 'distkv-foreign-history-compacted-');
  const running: ServerProcess[] = [];
  after(async () => {
    for (const p of running) await p.stop();
  });

  it('saves its keys, then resyncs onto its leader', async () => {
    const L = `127.0.0.1:${String(await freePort())}`;
    const R = `127.0.0.1:${String(await freePort())}`;
    const small =
      '[storage]\nmemtable_bytes = 65536\nmax_runs = 1\nwal_segment_bytes = 65536\nwal_retention_bytes = 0\n';
    const config = writeConfig(dir, [{ address: L, replicas: [R] }], small);
    const rData = join(dir, 'replica');

    // 1. The replica copies the first history (several log segments, compacted away), then stops.
    let leader = await startConfigNode(config, L, join(dir, 'leader-1'), running);
    const replica = await startConfigNode(config, R, rData, running);
    await putAll(OLD_KEYS, (i) => put(L, `old${String(i)}`, '?w=1&timeout_ms=5000'));
    await new Promise((r) => setTimeout(r, 1500));
    await replica.stop();
    await leader.stop();

    // 2. The leader's directory is lost: it starts empty (a new history), takes more writes than
    //    the replica holds, and is restarted once before the replica comes back.
    const lData2 = join(dir, 'leader-2');
    leader = await startConfigNode(config, L, lData2, running);
    await putAll(NEW_KEYS, (i) => put(L, `new${String(i)}`));
    await leader.stop();
    await startConfigNode(config, L, lData2, running);

    // 3. The replica returns: told it forked at 0, it must come to hold exactly its leader's keys.
    await startConfigNode(config, R, rData, running);
    const want = await keysAt(L);
    assert.equal(want.length, NEW_KEYS);
    let got: string[] = [];
    for (let t = 0; t < 300; t++) {
      got = await keysAt(R);
      if (JSON.stringify(got) === JSON.stringify(want)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      const cluster = await runCli(['cluster', '--url', `http://${L}`]);
      assert.fail(
        `the replica serves ${String(got.length)} keys, ${String(got.filter((k) => k.startsWith('old')).length)} of the other history; its leader ${String(want.length)}:\n${cluster.stdout}${cluster.stderr}`,
      );
    }
    // Nothing is dropped silently: its keys of the other history are in a keys file.
    const saved = (readdirSync(rData, { recursive: true }) as string[]).filter((f) => /\.diverged-/.test(f));
    assert.equal(saved.length, 1, `divergence files under the replica's data directory: ${saved.join(', ')}`);
    assert.match(
      saved[0]!,
      new RegExp(`\\.diverged-\\d+-1-${String(OLD_KEYS)}\\.keys-${String(OLD_KEYS)}\\.log$`),
    );
    const read = await runCli(['diverged', join(rData, saved[0]!)]);
    assert.equal(read.code, 0, read.stderr);
    const lines = read.stdout.trim().split('\n');
    assert.equal(lines.length, OLD_KEYS + 1, 'one line per key and the summary');
    assert.match(
      lines[OLD_KEYS]!,
      new RegExp(`${String(OLD_KEYS)} records, seq 1\\.\\.${String(OLD_KEYS)}, .*deleted`),
    );
  });
});
