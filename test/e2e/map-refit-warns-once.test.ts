/**
 * A config edit that changes a shard's members (a replica added, as docs/failover.md's "A rolling
 * config change" describes) after a failover is said once, at the first start on the edited file:
 * the saved live map was made under another sharding.toml, and the map adjusted to the config's
 * members (src/routing/map-refit.ts) is saved by that start (MapKeeper.saveRefit). It was never
 * saved, so every later start of every node warned the same again, for as long as no failover
 * wrote a new map (tester2-65: each node of a 3-node cluster, at each of 5 rolling restarts after
 * one edit, logged `live-map.json does not fit the config (shard shard-0 does not have the members
 * ...)`, members that read as missing when they were the config's). A warning that comes back at
 * every start for a change made once, and done, teaches operators to ignore it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import {
  nodesFixture,
  runCli,
  type ServerProcess,
  startConfigNode,
  writeConfig,
} from '../helpers/server-process.js';

describe('a live map refitted to an edited config', { timeout: 120000 }, () => {
  const { dir, running } = nodesFixture(after, 'distkv-refit-once-');

  it('is warned about at the first start after the edit only', async () => {
    const A = `127.0.0.1:${String(await freePort())}`;
    const B = `127.0.0.1:${String(await freePort())}`;
    const C = `127.0.0.1:${String(await freePort())}`;
    const start = (config: string, node: string): Promise<ServerProcess> =>
      startConfigNode(config, node, join(dir, node.replace(':', '_')), running, [], {
        DISTKV_LOG_LEVEL: 'info',
      });
    // A failover writes a live map (an epoch past 0, map version 2) into both nodes' data directories.
    const config = writeConfig(dir, [{ address: A, replicas: [B] }]);
    const a = await start(config, A);
    const b = await start(config, B);
    const moved = await runCli(['failover', '--url', A, '--shard', 'shard-0', '--to', B]);
    assert.equal(moved.code, 0, moved.stderr);
    await a.stop();
    await b.stop();

    const edited = writeConfig(dir, [{ address: A, replicas: [B, C] }]); // a replica added
    const runA = async (): Promise<string> => {
      const p = await start(edited, A);
      await p.stop();
      return p.stdout;
    };
    const said = (out: string): string[] =>
      out.split('\n').filter((l) => /was saved under another sharding\.toml|does not fit the config/.test(l));
    const first = said(await runA());
    assert.equal(first.length, 1, 'the start after the edit says the map was adjusted to the config');
    assert.ok(
      first[0]!.includes(`the saved map lists the members ${B}, ${A}, the config ${A}, ${B}, ${C}`) &&
        first[0]!.includes('shard-0 keeps its leader, epoch and history from the saved map'),
      first[0],
    );
    assert.deepEqual(said(await runA()), [], 'the next start on the same config says it again');
    // The saved map kept what the failover made: the shard is still led by B.
    const again = await start(edited, A);
    const cluster = (await (await fetch(`http://${A}/cluster`)).json()) as {
      map: { shards: { leader: string; replicas: string[]; epoch: number }[] };
    };
    await again.stop();
    assert.deepEqual(
      cluster.map.shards.map((s) => [s.leader, s.replicas, s.epoch > 0]),
      [[B, [A, C], true]],
    );
  });
});
