/**
 * `distkv cluster` says so when a shard's config (sharding.toml `address`) names another leader
 * than the live map, which decides who leads (docs/failover.md, "How a map spreads"): after a
 * failover, or after an edit of the file that names another leader, the shard keeps its live
 * leader, and the command showed that leader without a word about the file. It now prints one
 * `note:` line for the shard, with the `distkv failover` that moves it, and `/cluster`
 * names the config's leader (`config_leader`) only where the two differ.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { type OwnServer, runCli, startOwnServer } from '../helpers/server-process.js';

describe(
  'distkv cluster for a shard whose config names another leader than the live map',
  { timeout: 120000 },
  () => {
    let own: OwnServer | undefined;
    after(async () => {
      await own?.stop();
    });

    it('prints a hint naming both leaders and the failover that moves it', async () => {
      const [lp, rp] = (await freePorts(2)) as [number, number];
      const L = `127.0.0.1:${String(lp)}`;
      const R = `127.0.0.1:${String(rp)}`;
      own = await startOwnServer([{ address: L, replicas: [R] }], '', ['--inline']);

      const before = await runCli(['cluster', '--url', `http://${L}`]);
      assert.doesNotMatch(before.stdout, /^note: shard-0 is led by/m, 'the config and the live map agree');
      const beforeDoc = await (await fetch(`http://${L}/cluster`)).json();
      assert.equal(
        (beforeDoc as { shards: { config_leader?: string }[] }).shards[0]!.config_leader,
        undefined,
      );

      const fo = await runCli(['failover', '--url', `http://${L}`, '--shard', 'shard-0', '--to', R]);
      assert.equal(fo.code, 0, `failover: ${fo.stdout}${fo.stderr}`);

      const json = await runCli(['cluster', '--url', `http://${R}`, '--json']);
      const doc = JSON.parse(json.stdout) as {
        shards: { epoch: number; config_leader?: string; leader: { address: string } }[];
      };
      const shard = doc.shards[0]!;
      assert.deepEqual(
        { leader: shard.leader.address, config_leader: shard.config_leader },
        { leader: R, config_leader: L },
      );
      assert.ok(shard.epoch > 0, `the failover started an epoch: ${String(shard.epoch)}`);
      const text = await runCli(['cluster', '--url', `http://${L}`]);
      const hints = text.stdout.split('\n').filter((l) => l.startsWith('note: shard-0 is led by'));
      assert.deepEqual(
        hints,
        [
          `note: shard-0 is led by ${R} (the live map, epoch ${String(shard.epoch)}) while the config names ${L}: a failover moved it, or the config was edited; the live map decides who leads and an edit of the config moves nothing (to move it: distkv failover --shard shard-0 --to ${L})`,
        ],
        `distkv cluster:\n${text.stdout}${text.stderr}`,
      );
    });
  },
);
