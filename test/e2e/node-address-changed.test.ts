/**
 * A node's address edited in sharding.toml between two runs (its port moved, say off a port another
 * program took), restarted on the same data directory with `--node NEW`: the directory holds the
 * stores of the old address, which the new file no longer names, so the check of
 * src/cli/node-dir-check.ts (a directory holding other config nodes' stores and none of this one's)
 * lets it through, and the node serves its shards from new, empty stores. A shard without a replica
 * answers 404 for every key it held; the log has one warning per old store ("holds a store this
 * config does not give this process (a replica removed from its shard, a shard renamed, or a node
 * moved to another process)"), which does not name the address change.
 *
 * What a user expects: the start refused (exit 2) naming the address whose stores the directory
 * holds, as for a wrong `--node`; or the keys served. The test passes on either.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { nodesFixture, ServerProcess, startConfigNode, writeConfig } from '../helpers/server-process.js';

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

describe("a node's address changed in the config between runs", { timeout: 120000 }, () => {
  const { dir, running } = nodesFixture(after, 'distkv-node-moved-');

  it('is refused at start, or serves the keys its data directory holds', async () => {
    const before = `127.0.0.1:${String(await freePort())}`;
    const moved = `127.0.0.1:${String(await freePort())}`;
    const dataDir = join(dir, 'node-data');
    const config = writeConfig(dir, [{ address: before }]);
    const first = await startConfigNode(config, before, dataDir, running);
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`http://${before}/kv/moved-${String(i)}`, {
        method: 'PUT',
        body: `v${String(i)}`,
      });
      assert.equal(r.status, 204);
    }
    assert.equal(await first.stop(), 0);

    writeConfig(dir, [{ address: moved }]);
    const second = ServerProcess.spawn([
      'serve',
      '--config',
      config,
      '--node',
      moved,
      '--data-dir',
      dataDir,
      '--workers',
      '1',
    ]);
    running.push(second);
    for (let t = 0; t < 150; t++) {
      if (second.child.exitCode !== null) break;
      const up = await fetch(`http://${moved}/healthz`, { signal: AbortSignal.timeout(1000) })
        .then((r) => r.status === 200)
        .catch(() => false);
      if (up) break;
      await sleep(100);
    }
    if (second.child.exitCode !== null) {
      assert.equal(second.child.exitCode, 2, second.stderr);
      assert.ok(
        second.stderr.includes(before),
        `the refusal names the old address ${before}:\n${second.stderr}`,
      );
      return;
    }
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await fetch(`http://${moved}/kv/moved-${String(i)}`)).status);
    const missing = statuses.filter((s) => s !== 200).length;
    assert.equal(
      missing,
      0,
      `${String(missing)} of 20 keys not served after the move (statuses ${[...new Set(statuses)].join(',')}); warnings:\n` +
        second.stdout
          .split('\n')
          .filter((l) => l.includes('"level":40'))
          .join('\n'),
    );
  });
});
