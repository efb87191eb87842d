/**
 * Failover benchmark (docs/failover.md): one shard with a leader and two replicas, each its own
 * `distkv serve --node` process on loopback, under a bounded w=1 write load through the client
 * library.
 *
 *  - planned: `--switches` planned failovers, each to the most advanced replica; per switch, the
 *    write-unavailability window is the longest gap between two consecutive acknowledged writes
 *    that spans the switch, next to the failover command's own duration.
 *  - forced: `--rounds` rounds of kill -9 of the leader, `--force` promotion, restart of the old
 *    leader (it cuts its tail into a divergence file and rejoins).
 * After each part every acknowledged write is read back from the leader: "lost" counts the ones
 * missing (w=1 writes must all be there). Prints p50 and max. Bounded: every loop has a count limit.
 *
 *   npm run bench:failover -- [--switches 20] [--rounds 5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DistkvClient } from '../src/client/client.js';
import { failover } from '../src/cli/failover.js';
import { TestCluster } from '../test/helpers/cluster.js';
import { freePort } from '../test/helpers/ports.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const SWITCHES = arg('switches', 20);
const ROUNDS = arg('rounds', 5);
const MAX_WRITES = 200000;

/** Writer keeps `concurrency` w=1 writes in flight and records each ack's time. */
class Writer {
  readonly acked = new Map<string, string>();
  readonly ackTimes: number[] = [];
  private n = 0;
  private stopped = false;
  private readonly loops: Promise<void>[];

  constructor(client: DistkvClient, prefix: string, concurrency: number) {
    this.loops = Array.from({ length: concurrency }, async () => {
      while (!this.stopped && this.n < MAX_WRITES) {
        const i = this.n++;
        try {
          await client.put(`${prefix}-${i}`, `v${i}`, { w: 1, timeoutMs: 5000 });
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

/** lost counts acknowledged writes the leader does not hold (after a reload of the live map, so reads go to the leader). */
async function lost(client: DistkvClient, acked: Map<string, string>): Promise<number> {
  await client.reload();
  let n = 0;
  for (const [k, v] of acked) if ((await client.get(k))?.toString() !== v) n++;
  return n;
}

async function leaderOf(node: string): Promise<string> {
  const doc = (await (await fetch(`http://${node}/cluster`)).json()) as {
    shards: { leader: { address: string } }[];
  };
  return doc.shards[0]!.leader.address;
}

async function main(): Promise<void> {
  console.log(
    `node ${process.version}, ${availableParallelism()} CPUs; 1 shard, 3 nodes (1 worker each); w=1 writes, 4 in flight`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'distkv-failover-bench-'));
  const nodes = await Promise.all(
    ['127.0.0.1', '127.0.0.2', '127.0.0.3'].map(async (h) => `${h}:${await freePort(h)}`),
  );
  const cluster = await TestCluster.start({
    dir,
    shards: [{ address: nodes[0]!, replicas: nodes.slice(1) }],
  });
  const urls = nodes.map((n) => `http://${n}`);
  const client = new DistkvClient({ urls, timeoutMs: 3000 });
  try {
    // Planned switches.
    const writer = new Writer(client, 'planned', 4);
    const windows: number[] = [];
    const durations: number[] = [];
    for (let i = 0; i < SWITCHES; i++) {
      await sleep(300);
      const t0 = performance.now();
      const r = await failover({ urls, shard: 'shard-0', force: false, token: '', timeoutMs: 20000 });
      const t1 = performance.now();
      durations.push(r.ms);
      await sleep(300);
      windows.push(writer.gapAround(t0, t1));
    }
    await writer.stop();
    const plannedLost = await lost(client, writer.acked);
    console.log(
      `planned: ${SWITCHES} switches, ${writer.acked.size} acknowledged writes, lost ${plannedLost}; write gap across a switch p50 ${pct(windows, 50).toFixed(0)} ms, max ${Math.max(...windows).toFixed(0)} ms; failover command p50 ${pct(durations, 50)} ms, max ${Math.max(...durations)} ms`,
    );

    // Forced rounds: kill -9 the leader, promote, restart the old leader.
    let w1Lost = 0;
    let acked = 0;
    const forcedMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const w = new Writer(client, `forced${i}`, 4);
      await sleep(500);
      const leader = await leaderOf(nodes[0]!);
      await cluster.kill(leader);
      await w.stop();
      const others = urls.filter((u) => !u.endsWith(leader));
      const r = await failover({ urls: others, shard: 'shard-0', force: true, token: '', timeoutMs: 20000 });
      forcedMs.push(r.ms);
      await cluster.startNode(leader);
      acked += w.acked.size;
      w1Lost += await lost(client, w.acked);
    }
    console.log(
      `forced: ${ROUNDS} rounds of kill -9 + --force + restart, ${acked} acknowledged w=1 writes, lost ${w1Lost}; failover command p50 ${pct(forcedMs, 50)} ms, max ${Math.max(...forcedMs)} ms`,
    );
  } finally {
    await client.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
