/**
 * What `/cluster` and `distkv cluster` say of a replica whose own disk is full while its leader
 * answers every pull: the replica's data directory is on a small loop-mounted ext4 image with a
 * ballast file, and its leader's writes fill it. It showed `disconnected`, as a replica whose
 * leader is gone does, and `distkv cluster` said "its leader last answered it ... ms ago"; its
 * log and /stats `lastError` alone said why. It must show `disk-failed` with `local_error`
 * DISK_FULL, `distkv cluster` must name its own disk and exit 1 (not healthy), and once the
 * ballast goes it must follow again (`streaming`, no `local_error`).
 * Skipped (with the reason) without root or loop devices.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import type { ClusterReplica } from '../../src/client/types.js';
import { waitFor } from '../helpers/failover-model.js';
import { fullDiskPair, writeValues } from '../helpers/full-disk-pair.js';
import { loopFsUnavailable } from '../helpers/loop-fs.js';
import { runCli, startConfigNode } from '../helpers/server-process.js';

const unavailable = loopFsUnavailable();

/** replicaOf reads node `b`'s own view of its replica of shard 0. */
async function replicaOf(b: string): Promise<ClusterReplica | undefined> {
  const doc = (await (await fetch(`http://${b}/cluster`)).json()) as {
    shards: { replicas: ClusterReplica[] }[];
  };
  return doc.shards[0]?.replicas.find((r) => r.address === b && r.local);
}

describe('a replica whose own disk fills, in /cluster and distkv cluster', () => {
  it(
    'shows disk-failed with DISK_FULL, not disconnected, is not healthy, and follows again once space is freed',
    { skip: unavailable ?? false, timeout: 180000 },
    async (t) => {
      const { A, B, config, bDir, ballast, running, close } = await fullDiskPair(
        after,
        'memtable_bytes = 4194304\nwal_segment_bytes = 2097152\nmax_runs = 2',
      );
      try {
        const b = await startConfigNode(config, B, bDir, running);
        await writeValues(A);
        let seen: ClusterReplica | undefined;
        await waitFor(
          'B to show its full disk in /cluster',
          async () => {
            seen = await replicaOf(B);
            return seen?.state === 'disk-failed';
          },
          60000,
        ).catch((err: unknown) => {
          throw new Error(
            `${(err as Error).message} (it shows ${JSON.stringify(seen)})\nB's log:\n${b.stdout.slice(-3000)}`,
          );
        });
        assert.equal(seen?.local_error, 'DISK_FULL');
        assert.equal(seen.lag_seqs, undefined, 'its lag is unknown');
        const cli = await runCli(['cluster', '--url', `http://${A}`]);
        t.diagnostic(`distkv cluster: ${cli.stdout}${cli.stderr}`);
        assert.equal(cli.code, 1, `not healthy\n${cli.stdout}${cli.stderr}`);
        assert.match(cli.stderr, /replica .* does not follow its leader: its own disk failed \(DISK_FULL\)/);
        assert.match(cli.stdout, new RegExp(`${B} \\(disk-failed: DISK_FULL, lag unknown`));
        assert.doesNotMatch(cli.stdout + cli.stderr, /disconnected/);
        // Space comes back: it follows again, and says nothing of the disk any more.
        rmSync(ballast);
        await waitFor(
          'B to follow again after the ballast went',
          async () => {
            seen = await replicaOf(B);
            return seen?.state === 'streaming';
          },
          90000,
        );
        assert.equal(seen.local_error, undefined);
      } finally {
        await close();
      }
    },
  );
});
