/**
 * Failover benchmark (docs/failover.md): one shard with a leader and two replicas, each its own
 * `distkv serve --node` process on loopback, under a bounded write load through the client library.
 *
 * Manual (default, no coordinator):
 *  - planned: `--switches` planned failovers, each to the most advanced replica; per switch, the
 *    write-unavailability window is the longest gap between two consecutive acknowledged writes
 *    that spans the switch, next to the failover command's own duration.
 *  - forced: `--rounds` rounds of kill -9 of the leader, `--force` promotion, restart of the old
 *    leader (it cuts its tail into a divergence file and rejoins).
 *  - stop: `--rounds` rounds of SIGSTOP of the leader, `--force` promotion, SIGCONT (the old leader
 *    learns the map from its peers, cuts its tail and rejoins).
 * Automatic (`--etcd`, a private etcd, lease TTL `--ttl-ms`):
 *  - kill: `--kills` rounds of SIGKILL of the leader under load: time from the kill to the first
 *    acknowledged write (necessarily on the new leader), then restart of the old leader;
 *  - stop: `--rounds` rounds of SIGSTOP of the leader until a replica is promoted, then SIGCONT;
 *  - planned: `--switches` planned failovers as above, through etcd (each must stick: every node
 *    names the target afterwards);
 *  - cost: PUT throughput of a cluster with coordination ÷ the same cluster without (`wrk -c50` at
 *    the leader), alternating `--cost-rounds` rounds of `--cost-ms` each, median ratio.
 * Every part runs w=1 writers (each acknowledged one must be on the leader afterwards: "lost") and
 * w=0 writers next to them: their lost acknowledged writes are counted and looked up in the old
 * leaders' divergence files, next to the number of records those files hold. Bounded: every loop
 * has a count limit and every wait a time limit. A forced failover refused with nothing changed
 * (the shard moved under it) is run again, up to 5 runs, and counted in the report.
 * It prints its figures; docs/performance.md's failover sections quote them (it does not write it).
 *
 *   npm run bench:failover -- [--switches 20] [--rounds 50]
 *   npm run bench:failover -- --etcd [--kills 20] [--rounds 50] [--switches 20] [--ttl-ms 1000]
 *                             [--cost-rounds 5 (0: none; else needs wrk)] [--cost-ms 3000]
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DistkvClient } from '../src/client/client.js';
import { failover } from '../src/cli/failover.js';
import { TestCluster } from '../test/helpers/cluster.js';
import { TestEtcd } from '../test/helpers/etcd.js';
import { clusterOf, divergedOf, storeOf, waitFor } from '../test/helpers/failover-model.js';
import { freePort } from '../test/helpers/ports.js';
import { count, flag } from './lib/args.js';
import { runAgain } from './lib/run-again.js';
import { requireTools } from './lib/tools.js';
import { runWrk } from './lib/wrk.js';

const ETCD = flag('etcd');
const SWITCHES = count('switches', 20, 0);
const ROUNDS = count('rounds', 50, 0);
const KILLS = count('kills', 20, 0);
const TTL_MS = count('ttl-ms', 1000);
const COST_ROUNDS = count('cost-rounds', 5, 0);
const COST_MS = count('cost-ms', 3000);
const MAX_WRITES = 200000;
if (ETCD) requireTools(['etcd'], '--etcd runs a private etcd (without --etcd: manual failover)');
if (ETCD && COST_ROUNDS > 0)
  requireTools(['wrk'], 'the cost rounds of --etcd run it (--cost-rounds 0 skips them)');

/** Writer keeps `concurrency` writes with concern `w` in flight and records each ack's time. */
class Writer {
  readonly acked = new Map<string, string>();
  readonly ackTimes: number[] = [];
  private n = 0;
  private stopped = false;
  private readonly loops: Promise<void>[];

  constructor(client: DistkvClient, prefix: string, concurrency: number, w = 1) {
    this.loops = Array.from({ length: concurrency }, async () => {
      while (!this.stopped && this.n < MAX_WRITES) {
        const i = this.n++;
        try {
          await client.put(`${prefix}-${i}`, `v${i}`, w === 0 ? {} : { w, timeoutMs: 5000 });
          this.acked.set(`${prefix}-${i}`, `v${i}`);
          this.ackTimes.push(performance.now());
        } catch {
          // not acknowledged: not part of the model
        }
      }
    });
  }

  /** gapAround is the longest gap between consecutive acks that overlaps [from, to]. */
  gapAround(from: number, to: number): number {
    const t = [...this.ackTimes].sort((a, b) => a - b);
    let gap = 0;
    for (let i = 1; i < t.length; i++)
      if (t[i]! >= from && t[i - 1]! <= to) gap = Math.max(gap, t[i]! - t[i - 1]!);
    return gap;
  }

  /** firstAckAfter is the time of the first ack after `t` (undefined: none yet). */
  firstAckAfter(t: number): number | undefined {
    return this.ackTimes.filter((x) => x > t).sort((a, b) => a - b)[0];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

/** missing lists acknowledged writes the leader does not hold (after a reload of the live map, so reads go to the leader). */
async function missing(client: DistkvClient, acked: Map<string, string>): Promise<string[]> {
  await client.reload();
  const out: string[] = [];
  for (const [k, v] of acked) if ((await client.get(k))?.toString() !== v) out.push(`${k}${v}`);
  return out;
}

/** leaderOf is the leader in the map of the first node of `nodes` that answers. */
async function leaderOf(nodes: readonly string[]): Promise<string> {
  for (const n of nodes)
    try {
      return (await clusterOf(n)).shards[0]!.leader.address;
    } catch {
      // down: ask the next one
    }
  throw new Error(`no node answers: ${nodes.join(', ')}`);
}

/** Cluster3 is one shard led by one node and replicated on two more, with its client. */
interface Cluster3 {
  cluster: TestCluster;
  nodes: string[];
  urls: string[];
  client: DistkvClient;
}

async function startCluster(dir: string, extraToml: string): Promise<Cluster3> {
  mkdirSync(dir);
  const nodes = await Promise.all(
    ['127.0.0.1', '127.0.0.2', '127.0.0.3'].map(async (h) => `${h}:${await freePort(h)}`),
  );
  const cluster = await TestCluster.start({
    dir,
    shards: [{ address: nodes[0]!, replicas: nodes.slice(1) }],
    extraToml,
  });
  const urls = nodes.map((n) => `http://${n}`);
  // A short client timeout: requests held by a paused leader give up sooner and re-route.
  return { cluster, nodes, urls, client: new DistkvClient({ urls, timeoutMs: 1500, retries: 1 }) };
}

/** Tally sums the model over fault rounds. */
interface Tally {
  w1Acked: number;
  w1Lost: number;
  w0Acked: number;
  w0Lost: number;
  w0LostInFiles: number;
  fileRecords: number;
  ms: number[];
  promoteMs: number[];
  /** reruns counts forced failovers refused with nothing changed and run again (forcedFailover). */
  reruns: number;
}

/** FORCED_RUNS bounds the runs of one forced failover refused with nothing changed (runAgain). */
const FORCED_RUNS = 5;

/**
 * forcedFailover runs `distkv failover --force` against the leader's replicas `others`, again
 * while it refuses with nothing changed (bench/lib/run-again.ts); it returns how many runs were
 * refused.
 */
function forcedFailover(others: readonly string[]): Promise<number> {
  return runAgain(
    () =>
      failover({
        urls: others.map((o) => `http://${o}`),
        shard: 'shard-0',
        force: true,
        token: '',
        timeoutMs: 20000,
      }),
    FORCED_RUNS,
    (err, n) => {
      console.log(`  forced failover refused, run again (${n} of ${FORCED_RUNS}): ${err.message}`);
    },
  );
}

/** divergence sums the divergence counters of the running nodes and concatenates their files. */
async function divergence(c: Cluster3, skip: string): Promise<{ records: number; bytes: Buffer }> {
  const all = await Promise.all(c.nodes.filter((n) => n !== skip).map((n) => divergedOf(n)));
  return {
    records: all.reduce((a, d) => a + d.records, 0),
    bytes: Buffer.concat(all.map((d) => d.bytes)),
  };
}

/**
 * faultRounds runs `rounds` rounds of SIGKILL or SIGSTOP of the leader under w=1 and w=0 load; the
 * promotion is a `--force` failover (manual) or etcd's (auto). `ms` collects, per round, the time
 * from the fault to the first acknowledged w=1 write after it.
 */
async function faultRounds(
  c: Cluster3,
  fault: 'kill' | 'stop',
  auto: boolean,
  rounds: number,
): Promise<Tally> {
  const t: Tally = {
    w1Acked: 0,
    w1Lost: 0,
    w0Acked: 0,
    w0Lost: 0,
    w0LostInFiles: 0,
    fileRecords: 0,
    ms: [],
    promoteMs: [],
    reruns: 0,
  };
  for (let i = 0; i < rounds; i++) {
    const leader = await leaderOf(c.nodes);
    const others = c.nodes.filter((n) => n !== leader);
    const before = await divergence(c, '');
    const w1 = new Writer(c.client, `${fault}${i}-w1`, 3, 1);
    const w0 = new Writer(c.client, `${fault}${i}-w0`, 1, 0);
    await sleep(300);
    const t0 = performance.now();
    if (fault === 'kill') await c.cluster.kill(leader);
    else c.cluster.process(leader).child.kill('SIGSTOP');
    try {
      if (!auto) t.reruns += await forcedFailover(others);
      await waitFor('a replica to be promoted', async () => (await leaderOf(others)) !== leader, 20000);
      t.promoteMs.push(performance.now() - t0);
      await waitFor(
        'a write acknowledged after the fault',
        () => Promise.resolve(w1.firstAckAfter(t0) !== undefined),
        20000,
      );
      t.ms.push(w1.firstAckAfter(t0)! - t0);
    } finally {
      if (fault === 'kill') await c.cluster.startNode(leader);
      else c.cluster.process(leader).child.kill('SIGCONT');
    }
    await sleep(300);
    await Promise.all([w1.stop(), w0.stop()]);
    await waitFor(`${leader} to follow`, async () => (await storeOf(leader)).role === 'replica', 20000);
    const after = await divergence(c, '');
    t.w1Acked += w1.acked.size;
    t.w1Lost += (await missing(c.client, w1.acked)).length;
    const lost0 = await missing(c.client, w0.acked);
    t.w0Acked += w0.acked.size;
    t.w0Lost += lost0.length;
    t.w0LostInFiles += lost0.filter((kv) => after.bytes.includes(Buffer.from(kv))).length;
    t.fileRecords += after.records - before.records;
  }
  return t;
}

function report(name: string, rounds: number, t: Tally): void {
  console.log(
    `${name}: ${rounds} rounds; w=1: ${t.w1Acked} acknowledged, lost ${t.w1Lost}; w=0: ${t.w0Acked} acknowledged, lost ${t.w0Lost}, of which in divergence files ${t.w0LostInFiles}; divergence files gained ${t.fileRecords} records; fault → replica promoted p50 ${pct(t.promoteMs, 50).toFixed(0)} ms, max ${Math.max(...t.promoteMs).toFixed(0)} ms; fault → first acknowledged write p50 ${pct(t.ms, 50).toFixed(0)} ms, max ${Math.max(...t.ms).toFixed(0)} ms${t.reruns === 0 ? '' : `; forced failovers refused and run again ${t.reruns}`}`,
  );
}

async function planned(c: Cluster3): Promise<void> {
  const writer = new Writer(c.client, 'planned', 4);
  const windows: number[] = [];
  const durations: number[] = [];
  for (let i = 0; i < SWITCHES; i++) {
    await sleep(300);
    const t0 = performance.now();
    const r = await failover({ urls: c.urls, shard: 'shard-0', force: false, token: '', timeoutMs: 20000 });
    const t1 = performance.now();
    durations.push(r.ms);
    await sleep(300);
    windows.push(writer.gapAround(t0, t1));
    // With etcd the switch must also stick: every node names the target (nobody took the shard back).
    await waitFor(`every node to name ${r.to}`, async () => {
      const seen = await Promise.all(
        c.nodes.map(async (n) => (await clusterOf(n)).shards[0]!.leader.address),
      );
      return seen.every((a) => a === r.to);
    });
  }
  await writer.stop();
  const lost = (await missing(c.client, writer.acked)).length;
  console.log(
    `planned: ${SWITCHES} switches, ${writer.acked.size} acknowledged writes, lost ${lost}; write gap across a switch p50 ${pct(windows, 50).toFixed(0)} ms, max ${Math.max(...windows).toFixed(0)} ms; failover command p50 ${pct(durations, 50)} ms, max ${Math.max(...durations)} ms`,
  );
}

/**
 * putRate is the leader's rate of successful PUTs (default write concern) under `wrk -t1 -c50` for
 * COST_MS: the server saturated, so the ratio shows its cost per write, not the bench's client. A
 * write held by a missed lease deadline answers 503 and is not counted.
 */
async function putRate(c: Cluster3): Promise<{ rate: number; refused: number }> {
  const leader = await leaderOf(c.nodes);
  const seconds = Math.max(1, Math.round(COST_MS / 1000));
  const r = runWrk(`http://${leader}`, 'put-kv.lua', seconds, 50);
  return { rate: r.rps - r.non2xx / seconds, refused: r.non2xx + r.errors };
}

async function main(): Promise<void> {
  console.log(
    `node ${process.version}, ${availableParallelism()} CPUs; 1 shard, 3 nodes (1 worker each); ${ETCD ? `automatic failover with etcd, lease TTL ${TTL_MS} ms` : 'manual failover'}`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'distkv-failover-bench-'));
  const etcd = ETCD ? await TestEtcd.start() : undefined;
  const started: Cluster3[] = [];
  try {
    const coordination =
      etcd === undefined ? '' : `[coordination]\netcd = ["${etcd.url}"]\nlease_ttl_ms = ${TTL_MS}\n`;
    const c = await startCluster(join(dir, 'a'), coordination);
    started.push(c);
    if (etcd === undefined) {
      if (SWITCHES > 0) await planned(c);
      if (ROUNDS > 0)
        report('forced (kill -9, --force, restart)', ROUNDS, await faultRounds(c, 'kill', false, ROUNDS));
      if (ROUNDS > 0)
        report('paused (SIGSTOP, --force, SIGCONT)', ROUNDS, await faultRounds(c, 'stop', false, ROUNDS));
      return;
    }
    await waitFor('a leader to hold its lease', async () => {
      const leader = await leaderOf(c.nodes);
      return (await clusterOf(leader)).shards[0]!.leader.writes_held !== true;
    });
    if (SWITCHES > 0) await planned(c);
    if (COST_ROUNDS > 0) {
      const off = await startCluster(join(dir, 'b'), '');
      started.push(off);
      const ratios: number[] = [];
      for (let i = 0; i < COST_ROUNDS; i++) {
        // Alternate which goes first, so neither gets the warmer machine every time.
        const first = i % 2 === 0 ? off : c;
        const r1 = await putRate(first);
        const r2 = await putRate(first === off ? c : off);
        const [a, b] = first === off ? [r1, r2] : [r2, r1];
        ratios.push(b.rate / a.rate);
        console.log(
          `  cost round ${i + 1}: off ${a.rate.toFixed(0)} PUT/s, on ${b.rate.toFixed(0)} PUT/s (${b.refused} refused), ratio ${(b.rate / a.rate).toFixed(3)}`,
        );
      }
      console.log(
        `cost: PUT throughput with coordination ÷ without, median of ${COST_ROUNDS} alternating rounds: ${pct(ratios, 50).toFixed(3)}`,
      );
    }
    if (KILLS > 0)
      report(
        'automatic, kill -9 of the leader (then restart)',
        KILLS,
        await faultRounds(c, 'kill', true, KILLS),
      );
    if (ROUNDS > 0)
      report(
        'automatic, SIGSTOP of the leader (then SIGCONT)',
        ROUNDS,
        await faultRounds(c, 'stop', true, ROUNDS),
      );
  } finally {
    for (const c of started) {
      await c.client.close();
      await c.cluster.stop();
    }
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
