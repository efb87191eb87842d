/**
 * `distkv load --node REPLICA` into a fresh data directory, where the shard's leader is hosted by
 * the same process (the default layout: leaders on one address, replicas on another, one
 * `distkv serve`). The load fills the replica's store (seqs 1..N, durable, exit 0) and leaves
 * the leader's store missing. At `distkv serve` the leader opens empty, its replica finds itself
 * ahead ("replica is ahead of its leader (it holds writes the leader does not have); resyncing",
 * a warning in the log) and resyncs from the empty leader: the N loaded keys are dropped, with no
 * divergence file (a bulk load writes no log records to save), and the node serves the shard empty.
 *
 * With the replica in another process the same state is caught: the leader, started on a store
 * whose directory did not exist, learns its replica is ahead and holds the shard with 503
 * LEADER_BEHIND, naming `distkv failover --shard shard-0 --to REPLICA` (docs/failover.md, "A leader
 * that starts behind its replica"). So it is now with the replica in the same process, on the
 * leader's worker (its pulls answered there: local-source.ts) or on another (a ring, whose first
 * pull goes over HTTP): the shard is held, the replica keeps every loaded key, and the failover the
 * refusal names brings them back, the old leader copying them (src/server/behind-here.ts).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { dumpAt, waitFor } from '../helpers/failover-model.js';
import { freePorts } from '../helpers/ports.js';
import { runCli, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const KEYS = 200;

const servers: ServerProcess[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});
const root = tempDir(after);

/** StoreStat is a store's entry in /stats. */
interface StoreStat {
  role: string;
  node: string;
  keys: number;
  lastSeq: number;
}

/** storesOf reads the stores a node's /stats lists. */
async function storesOf(address: string): Promise<StoreStat[]> {
  const doc = (await (await fetch(`http://${address}/stats`)).json()) as { stores: StoreStat[] };
  return doc.stores;
}

/** storeAt is the store of node `node` in `address`'s /stats. */
async function storeAt(address: string, node: string): Promise<StoreStat | undefined> {
  return (await storesOf(address)).find((s) => s.node === node);
}

/**
 * loadAndServe fills the replica's store of a fresh data directory with `distkv load --node
 * REPLICA` and starts `distkv serve` with `workers` workers; undefined when the load refused.
 */
async function loadAndServe(
  workers: number,
): Promise<{ leader: string; replica: string; node: ServerProcess } | undefined> {
  const dir = join(root, `workers-${String(workers)}`);
  mkdirSync(dir);
  const [lp, rp] = await freePorts(2);
  const leader = `127.0.0.1:${String(lp)}`;
  const replica = `127.0.0.1:${String(rp)}`;
  const config = writeConfig(
    dir,
    [{ address: leader, replicas: [replica] }],
    `[server]\nworkers = ${String(workers)}\n`,
  );
  const data = join(dir, 'data');
  mkdirSync(data);
  const input = join(dir, 'keys.jsonl');
  writeFileSync(
    input,
    Array.from({ length: KEYS }, (_, i) => JSON.stringify({ key: `k${i}`, value: `v${i}` })).join('\n') +
      '\n',
  );
  const loaded = await runCli(['load', input, '--config', config, '--data-dir', data, '--node', replica]);
  if (loaded.code !== 0) {
    // A load that refuses to fill a replica without its leader keeps the data safe too.
    assert.equal(loaded.code, 1, loaded.stderr);
    return undefined;
  }
  const node = await ServerProcess.start(
    ['--config', config, '--data-dir', data, '--durability', 'none'],
    `http://${leader}/healthz`,
    { DISTKV_LOG_LEVEL: 'warn' },
  );
  servers.push(node);
  return { leader, replica, node };
}

for (const workers of [1, 2]) {
  const how = workers === 1 ? "on the leader's worker" : 'on another worker (a ring)';
  describe(`distkv load --node REPLICA with the leader in the same process, the replica ${how}`, () => {
    it('holds the shard LEADER_BEHIND, keeps the loaded keys, and fails over to the replica whole', async () => {
      const started = await loadAndServe(workers);
      if (started === undefined) return;
      const { leader, replica, node } = started;
      const log = (): string => `(log: ${node.stdout.slice(-1500)}${node.stderr.slice(-1500)})`;
      // Give the replica time to follow (or resync from) its leader.
      await new Promise((r) => setTimeout(r, 1500));
      const get = await fetch(`http://${leader}/kv/k1`);
      const text = await get.text();
      const kept = await storeAt(replica, replica);
      assert.equal(kept?.keys, KEYS, `the replica keeps the keys it was loaded with ${log()}`);
      assert.equal(get.status, 503, `the leader answers ${String(get.status)} ${text} ${log()}`);
      assert.match(text, /LEADER_BEHIND/);
      assert.match(text, /started on an empty store/);
      assert.match(text, new RegExp(`replica ${replica} holds records through seq ${String(KEYS)}`));
      assert.match(text, new RegExp(`distkv failover --shard shard-0 --to ${replica}`));
      assert.match(node.stdout + node.stderr, /LEADER BEHIND/);
      assert.doesNotMatch(node.stdout + node.stderr, /resyncing/, 'the replica did not resync');

      // The remedy the refusal names.
      const r = await runCli([
        'failover',
        '--url',
        `http://${leader}`,
        '--shard',
        'shard-0',
        '--to',
        replica,
      ]);
      assert.equal(r.code, 0, `${r.stderr}${r.stdout} ${log()}`);
      const got = await fetch(`http://${replica}/kv/k7`);
      assert.equal(got.status, 200, `GET k7 at ${replica}: ${await got.clone().text()} ${log()}`);
      assert.equal(await got.text(), 'v7');
      const served = await dumpAt(replica);
      assert.equal(served.size, KEYS, 'the new leader serves every loaded key');
      const put = await fetch(`http://${replica}/kv/after?w=1&timeout_ms=10000`, {
        method: 'PUT',
        body: 'yes',
      });
      assert.equal(put.status, 204, await put.text());
      await waitFor(`${leader} copies the shard from ${replica}`, async () => {
        const st = await storeAt(leader, leader);
        return st?.role === 'replica' && st.keys === KEYS + 1;
      });
      // The old leader's address reads its own store, now a replica of the new leader.
      const copied = await dumpAt(leader);
      assert.equal(copied.get('k199'), 'v199');
      assert.equal(copied.get('after'), 'yes');
    });
  });
}
