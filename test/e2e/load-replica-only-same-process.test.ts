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
 * that starts behind its replica"). Expected here too: the loaded keys kept (the shard held, or the
 * load refusing replica stores whose leader it does not load), never dropped.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { runCli, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const KEYS = 200;

const servers: ServerProcess[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});
const dir = tempDir(after);

/** replicaKeys returns the keys count of the replica store at `address` (its /stats). */
async function replicaKeys(address: string): Promise<number | undefined> {
  const doc = (await (await fetch(`http://${address}/stats`)).json()) as {
    stores: { role: string; node?: string; keys?: number }[];
  };
  return doc.stores.find((s) => s.role === 'replica')?.keys;
}

describe('distkv load --node REPLICA with the leader in the same process', () => {
  it('does not lose the loaded keys when the node starts', async () => {
    const [lp, rp] = await freePorts(2);
    const leader = `127.0.0.1:${lp}`;
    const replica = `127.0.0.1:${rp}`;
    const config = writeConfig(dir, [{ address: leader, replicas: [replica] }], '[server]\nworkers = 1\n');
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
      return;
    }
    const node = await ServerProcess.start(
      ['--config', config, '--data-dir', data, '--durability', 'none'],
      `http://${leader}/healthz`,
      { DISTKV_LOG_LEVEL: 'warn' },
    );
    servers.push(node);
    // Give the replica time to follow (or resync from) its leader.
    const deadline = Date.now() + 5000;
    let get: Response | undefined;
    while (Date.now() < deadline) {
      get = await fetch(`http://${leader}/kv/k1`);
      if (get.status !== 503) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const held = (await fetch(`http://${leader}/kv/k1`)).status;
    const kept = await replicaKeys(replica);
    assert.ok(
      held === 503 || held === 200,
      `the leader answers ${held} for a loaded key; the replica holds ${String(kept)} of ${KEYS} loaded keys (log: ${node.stdout.slice(-600)}${node.stderr.slice(-600)})`,
    );
    assert.equal(kept, KEYS, 'the replica keeps the keys it was loaded with');
  });
});
