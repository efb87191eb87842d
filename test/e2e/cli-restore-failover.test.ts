/**
 * `distkv restore` through an automatic failover (etcd, lease TTL 1 s: test/helpers/etcd-trio.ts):
 * the shard's leader is killed (SIGKILL) while the restore writes, a replica is promoted, and the
 * restore follows it and ends with exit 0, every key of the backup holding its backed-up value. It
 * is given that leader alone (--url): it asked only that node for the map after its first pass,
 * and failed there ("no node answered /cluster", exit 1) with every key written to the new leader
 * but none of the shard written again. It used to stop at the first write the kill cut off
 * (SHARD_UNREACHABLE, exit 1); and since
 * replication is asynchronous, writes the killed leader acknowledged could be missing on the
 * promoted replica while the report counted them: the restore now writes the keys of a shard whose
 * leader changed again, and says so. Then the new leader is killed just before a restore starts,
 * with the last replica paused until the restore has asked it for the map (so that map names the
 * killed leader): the restore waits for that replica's promotion instead of failing up front (it
 * asked each leader the map named, and stopped when one did not answer: "nothing was written").
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DistkvClient } from '../../src/client/client.js';
import { etcdMissing } from '../helpers/etcd.js';
import { EtcdTrio } from '../helpers/etcd-trio.js';
import { clusterOf, leaderSeenBy, storeOf, waitFor } from '../helpers/failover-model.js';
import { pauseProcess } from '../helpers/process-pause.js';
import { type CliResult, runCli, spawnCli } from '../helpers/server-process.js';

/**
 * KEYS is how many keys the backup holds: enough that the restore is still writing when the leader
 * is killed (20 batches of 1000: it is killed after the fifth, and the test fails if the restore
 * ended first). 60 000 took a minute here, most of it writing the keys again and again.
 */
const KEYS = 20_000;
const VALUE = 'v'.repeat(100);

/** writeAll sets every key to `value(i)` in batches of 1000 (each acknowledged). */
async function writeAll(client: DistkvClient, value: (i: number) => string): Promise<void> {
  for (let i = 0; i < KEYS; i += 1000) {
    const ops = Array.from({ length: Math.min(1000, KEYS - i) }, (_, k) => ({
      op: 'set' as const,
      key: `key-${String(i + k).padStart(6, '0')}`,
      value: value(i + k),
    }));
    const results = await client.batch(ops);
    assert.ok(
      results.every((r) => r.ok),
      JSON.stringify(results.find((r) => !r.ok)),
    );
  }
}

/** connectedTo reports whether process `pid` has a TCP connection established to loopback port `port` (ss). */
function connectedTo(port: string, pid: number): boolean {
  const out = execFileSync('ss', ['-Htnp', 'state', 'established', `( dport = :${port} )`], {
    encoding: 'utf8',
  });
  return out.includes(`pid=${pid},`);
}

/** checkAll asserts that every key holds its backed-up value (read through the shard's leader). */
async function checkAll(client: DistkvClient): Promise<void> {
  await client.reload();
  let seen = 0;
  const wrong: string[] = [];
  for await (const item of client.scan('key-')) {
    seen++;
    const i = Number(item.key.slice(4));
    if (item.value.toString() !== `${VALUE}-backup-${i}` && wrong.length < 5)
      wrong.push(`${item.key}=${item.value.toString().slice(0, 20)}`);
  }
  assert.deepEqual(wrong, [], 'keys that do not hold their backed-up value');
  assert.equal(seen, KEYS);
}

/** caughtUp waits until every node of `replicas` holds the leader's last seq. */
async function caughtUp(leader: string, replicas: readonly string[]): Promise<void> {
  const leaderSeq = (await storeOf(leader)).lastSeq;
  await waitFor(
    'the replicas to hold the old values',
    async () => {
      for (const r of replicas) if ((await storeOf(r)).lastSeq < leaderSeq) return false;
      return true;
    },
    60_000,
  );
}

describe('distkv restore while the shard fails over', { timeout: 300_000, skip: etcdMissing() }, () => {
  let trio: EtcdTrio;
  const file = (): string => join(trio.dir, 'backup.dkv');
  /** killed is the leader the first test killed. */
  let killed = '';

  before(async () => {
    trio = await EtcdTrio.start('restore-failover');
  });

  after(async () => {
    await trio.stop();
  });

  it('follows the promoted replica, writes the shard again, and every key holds its backed-up value', async () => {
    const { members, client, cluster } = trio;
    let a = '';
    await waitFor('a leader to hold its lease', async () => {
      a = (await leaderSeenBy(members[0]!)) ?? '';
      return a !== '' && (await clusterOf(a)).shards[0]!.leader.writes_held !== true;
    });
    const urls = members.join(',');
    await writeAll(client, (i) => `${VALUE}-backup-${i}`);
    const backup = await runCli(['backup', file(), '--url', urls]);
    assert.equal(backup.code, 0, backup.stderr);
    // Other values, on every member: a restore write lost in the failover would leave one of them.
    await writeAll(client, (i) => `old-${i}`);
    const others = members.filter((m) => m !== a);
    await caughtUp(a, others);
    const leaderSeq = (await storeOf(a)).lastSeq;

    let done: CliResult | undefined;
    // Given only the leader it kills: the restore learns the new leader from the cluster's map.
    // --refused-wait-ms 0: a write the kill refuses goes at once to the restore's own wait for the
    // shard's leader (leader-wait.ts), what this file is about, rather than first to the client's
    // 10 s of retries at the dead address (most of this case's time).
    const restore = runCli([
      'restore',
      file(),
      '--force',
      '--url',
      a,
      '--json',
      '--refused-wait-ms',
      '0',
    ]).then((r) => {
      done = r;
      return r;
    });
    // Kill the leader once the restore has written part of the backup (its seq moved by a quarter).
    await waitFor(
      'the restore to write a quarter of the keys',
      async () => done !== undefined || (await storeOf(a)).lastSeq >= leaderSeq + KEYS / 4,
      120_000,
    );
    assert.equal(done, undefined, `the restore ended before the kill: ${JSON.stringify(done)}`);
    await cluster.kill(a);
    killed = a;
    const r = await restore;
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as {
      keys: number;
      expired: number;
      rewritten?: number;
      rewritten_shards?: number[];
    };
    assert.equal(doc.keys, KEYS, r.stdout);
    assert.equal(doc.expired, 0);
    assert.deepEqual(doc.rewritten_shards, [0], 'the shard whose leader changed is written again');
    // Every key of that shard, once per pass it was written again (a second failover, a healthy
    // leader that stalled past its 1 s lease on a loaded machine, makes another pass).
    assert.ok(doc.rewritten !== undefined && doc.rewritten >= KEYS && doc.rewritten % KEYS === 0, r.stdout);

    await checkAll(client);
  });

  it('waits for the promotion of a replica when the leader is down as it starts', async () => {
    const { members, client, cluster } = trio;
    const live = members.filter((m) => m !== killed);
    let b = '';
    await waitFor('the promoted leader', async () => {
      b = (await leaderSeenBy(live[0]!)) ?? '';
      return b !== '' && b !== killed && (await clusterOf(b)).shards[0]!.leader.writes_held !== true;
    });
    const c = live.find((m) => m !== b)!;
    await writeAll(client, (i) => `old-${i}`);
    await caughtUp(b, [c]);
    // c, paused, cannot take the shard over before the restore has asked it for the map: it then
    // answers with the map it had, which names the killed leader b.
    const cProcess = cluster.process(c).child;
    await pauseProcess(cProcess);
    let r: CliResult;
    try {
      await cluster.kill(b);
      // --refused-wait-ms 0, as above: the killed leader b the map names is looked for by the
      // restore, not retried by the client.
      const restore = spawnCli([
        'restore',
        file(),
        '--force',
        '--url',
        c,
        '--json',
        '--refused-wait-ms',
        '0',
      ]);
      const port = c.slice(c.lastIndexOf(':') + 1);
      await waitFor(
        'the restore to connect to the paused replica',
        () => Promise.resolve(connectedTo(port, restore.pid)),
        60_000,
      );
      cProcess.kill('SIGCONT');
      r = await restore.result;
    } finally {
      cProcess.kill('SIGCONT');
    }
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { keys: number };
    assert.equal(doc.keys, KEYS, r.stdout);
    assert.equal(await leaderSeenBy(c), c, 'the last replica leads');
    await checkAll(client);
  });
});
