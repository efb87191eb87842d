/**
 * Replication across processes over loopback: a leader node and a replica node of one shard, each
 * its own `distkv serve --node` process, sharing one config.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dumpAt } from '../helpers/failover-model.js';
import { freePorts } from '../helpers/ports.js';
import { ServerProcess, startConfigNode, writeConfig } from '../helpers/server-process.js';

let dir = '';
let A = '';
let B = '';
let config = '';
const running: ServerProcess[] = [];

function start(node: string, data: string): Promise<ServerProcess> {
  return startConfigNode(config, node, join(dir, data), running);
}

/** dump lists what a node serves, in key order. */
const dump = async (node: string): Promise<[string, string][]> => [...(await dumpAt(node))];

async function converged(ms = 30000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    let error: unknown;
    try {
      const [l, r] = [await dump(A), await dump(B)];
      if (JSON.stringify(l) === JSON.stringify(r)) return;
      error = new assert.AssertionError({
        message: 'replica did not converge',
        actual: r.length,
        expected: l.length,
      });
    } catch (err) {
      error = err; // e.g. 503 while the replica rebuilds from a snapshot
    }
    if (Date.now() > deadline) throw error;
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function writes(n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, (_, j) => {
        const k = `k${(i + j) % 400}`;
        return (i + j) % 7 === 0
          ? fetch(`http://${A}/kv/${k}`, { method: 'DELETE' })
          : fetch(`http://${A}/kv/${k}`, { method: 'PUT', body: `${tag}-${i + j}-${'x'.repeat(100)}` });
      }),
    );
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'distkv-repl-e2e-'));
  const [pa, pb] = await freePorts(2);
  A = `127.0.0.1:${pa}`;
  B = `127.0.0.1:${pb}`;
  config = writeConfig(
    dir,
    [{ address: A, replicas: [B] }],
    '[storage]\nmemtable_bytes = 65536\nwal_segment_bytes = 65536\nwal_retention_bytes = 0\nmax_runs = 2\n[replication]\nring_bytes = 65536\npull_wait_ms = 200\n',
  );
});

after(async () => {
  await Promise.all(running.map((p) => p.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('replication over HTTP between processes', () => {
  it('a replica started long after its leader catches up from zero', async () => {
    await start(A, 'a');
    await writes(1500, 'early');
    await start(B, 'b');
    await converged();
  });

  it('w=1 acknowledges only once the replica holds the write', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`http://${A}/kv/w1-${i}?w=1&timeout_ms=5000`, { method: 'PUT', body: `v${i}` });
      assert.equal(r.status, 204);
      const g = await fetch(`http://${B}/kv/w1-${i}`);
      assert.equal(await g.text(), `v${i}`, 'the replica has it as soon as the leader acknowledged');
      assert.equal(g.headers.get('x-distkv-lag') !== null, true);
    }
    const bad = await fetch(`http://${A}/kv/x?w=2`, { method: 'PUT', body: 'v' });
    assert.equal(bad.status, 400);
  });

  it('a replica killed with SIGKILL during writes converges after its restart', async () => {
    const replica = running.find((p) => p.child.spawnargs.includes(B))!;
    const load = writes(2000, 'kill');
    await new Promise((r) => setTimeout(r, 300));
    replica.child.kill('SIGKILL');
    await replica.waitExit();
    running.splice(running.indexOf(replica), 1);
    await load;
    await start(B, 'b');
    await converged();
  });

  it('w=1 with the replica stopped times out with 504 and the write stays on the leader', async () => {
    const replica = running.find((p) => p.child.spawnargs.includes(B))!;
    await replica.stop();
    running.splice(running.indexOf(replica), 1);
    const t0 = Date.now();
    const r = await fetch(`http://${A}/kv/lonely?w=1&timeout_ms=300`, { method: 'PUT', body: 'v' });
    const body = (await r.json()) as { error: { code: string; message: string } };
    assert.equal(r.status, 504);
    assert.equal(body.error.code, 'REPLICATION_TIMEOUT');
    assert.match(body.error.message, /0 of 1 replicas/);
    assert.ok(Date.now() - t0 < 3000, 'answered within the timeout');
    assert.equal(await (await fetch(`http://${A}/kv/lonely`)).text(), 'v');
  });

  it('a replica wiped while down resyncs from a snapshot (410) and converges', async () => {
    rmSync(join(dir, 'b'), { recursive: true, force: true });
    await writes(3000, 'wiped');
    const gone = await fetch(`http://${A}/_repl/pull?shard=0&after=0&wait_ms=0&replica=${B}`);
    assert.equal(gone.status, 410, 'the leader no longer has the log from seq 1');
    await gone.arrayBuffer();
    await start(B, 'b');
    await converged();
    const stats = (await (await fetch(`http://${B}/stats`)).json()) as { stores: { resyncs?: number }[] };
    assert.ok((stats.stores[0]?.resyncs ?? 0) >= 1, 'the replica resynced from a snapshot');
  });

  it("the seed's replication protocol converges a seed-style replica", async () => {
    const [port] = await freePorts(1);
    const node = `127.0.0.1:${port}`;
    mkdirSync(join(dir, 'seed-config'));
    const seedConfig = writeConfig(join(dir, 'seed-config'), [{ address: node }]);
    const leader = await ServerProcess.start(
      ['--config', seedConfig, '--data-dir', join(dir, 'seed'), '--workers', '1'],
      `http://${node}/healthz`,
      { DISTKV_LOG_LEVEL: 'warn' },
    );
    running.push(leader);
    const expected = new Map<string, string>();
    for (let i = 0; i < 300; i++) {
      const k = `s${i % 90}`;
      if (i % 9 === 0) {
        await fetch(`http://${node}/kv/${k}`, { method: 'DELETE' });
        expected.delete(k);
      } else {
        await fetch(`http://${node}/set?key=${k}&value=v${i}`);
        expected.set(k, `v${i}`);
      }
    }
    // The seed's replica loop: next-replication-key, apply, delete-replication-key, until "".
    const replica = new Map<string, string>();
    for (let i = 0; i < 10000; i++) {
      const next = (await (await fetch(`http://${node}/next-replication-key`)).json()) as {
        key: string;
        value: string;
      };
      if (next.key === '') break;
      if (next.value === '') replica.delete(next.key);
      else replica.set(next.key, next.value);
      const u = new URLSearchParams({ key: next.key, value: next.value });
      assert.equal(await (await fetch(`http://${node}/delete-replication-key?${u.toString()}`)).text(), 'ok');
    }
    assert.deepEqual(new Map([...replica].sort()), new Map([...expected].sort()));
    const again = (await (await fetch(`http://${node}/next-replication-key`)).json()) as { key: string };
    assert.equal(again.key, '', 'the cursor is at the end of the log');
  });
});
