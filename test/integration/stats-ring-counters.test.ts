/**
 * A ring replica's counters reach /stats and /metrics (src/replication/ring-source.ts, reported by
 * replica-stats.ts and src/server/store-metrics.ts). One process hosts node A, leader of shard-0,
 * and node B, its replica, on the other of two workers: B follows A through a SharedArrayBuffer
 * ring (`ring_bytes` 64 KiB). Small writes come through the ring (`ringBatches`); a value larger
 * than the ring is dropped by it and read from A's log over HTTP (`fallbackPulls`). When B's worker
 * crashes and is restarted, its new follower counts from zero in /stats, and the /metrics counters
 * keep their totals, as the other store counters do.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load-config.js';
import { DistkvNode } from '../../src/server/node.js';
import { createLogger } from '../../src/util/logger.js';
import { freePorts } from '../helpers/ports.js';
import { parseExposition } from '../helpers/prom-parse.js';

/** CRASHING_ENTRY is the real shard worker, but one that crashes on an op for the key "crash-now". */
const CRASHING_ENTRY = new URL('../helpers/crashing-worker.js', import.meta.url);
/** WAIT_MS bounds each wait for the replica (the machine may be loaded). */
const WAIT_MS = 20000;

/** RingReplicaStats are the fields of B's store in /stats this test reads. */
interface RingReplicaStats {
  ringBatches?: number;
  fallbackPulls?: number;
  replicaAck?: number;
  error?: string;
}

let A = '';
let B = '';
let node: DistkvNode | undefined;
const dir = mkdtempSync(join(tmpdir(), 'distkv-test-'));

before(async () => {
  const [portA, portB] = (await freePorts(2)) as [number, number];
  A = `127.0.0.1:${portA}`;
  B = `127.0.0.1:${portB}`;
  const config = parseConfigText(
    `[[shards]]\nname = "shard-0"\nidx = 0\naddress = "${A}"\nreplicas = ["${B}"]\n` +
      `[server]\ndata_dir = "${dir}"\nworkers = 2\nresp_port_offset = 0\n` +
      `[replication]\nring_bytes = 65536\n`,
    'stats-ring-counters',
  );
  node = await DistkvNode.start({
    config,
    nodes: [A, B],
    log: createLogger('error'),
    workerEntry: CRASHING_ENTRY,
  });
  const ring = node.plan.stores.find((s) => s.role === 'replica')?.replication?.ring;
  assert.ok(ring !== undefined, 'B follows A through a ring (they are on two workers)');
  await until('A and B serve', async () => {
    const a = await fetch(`http://${A}/healthz`).catch(() => undefined);
    const b = await fetch(`http://${B}/healthz`).catch(() => undefined);
    await a?.arrayBuffer();
    await b?.arrayBuffer();
    return a?.status === 200 && b?.status === 200 ? true : undefined;
  });
});

// The node first: its directory goes once nothing of it writes there.
after(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** until polls `f` every 50 ms until it returns a value, failing after WAIT_MS with `what`. */
async function until<T>(what: string, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`not within ${WAIT_MS} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** statsOnce is the leader's and B's replica store entries of A's /stats, or undefined when it is refused (a worker restarting). */
async function statsOnce(): Promise<{ leaderSeq: number; replica: RingReplicaStats } | undefined> {
  const r = await fetch(`http://${A}/stats`);
  if (r.status !== 200) {
    await r.arrayBuffer();
    return undefined;
  }
  const doc = (await r.json()) as {
    stores: (RingReplicaStats & { role: string; node: string; lastSeq?: number })[];
  };
  const leader = doc.stores.find((s) => s.role === 'leader' && s.node === A);
  const replica = doc.stores.find((s) => s.role === 'replica' && s.node === B);
  assert.ok(leader !== undefined && replica !== undefined, JSON.stringify(doc.stores));
  return { leaderSeq: leader.lastSeq ?? -1, replica };
}

/** stats is statsOnce, waited for while /stats is refused. */
function stats(): Promise<{ leaderSeq: number; replica: RingReplicaStats }> {
  return until('A answers /stats', statsOnce);
}

/** caughtUp is B's stats once it acknowledged everything A wrote (by `seq` at least). */
function caughtUp(seq: number): Promise<RingReplicaStats> {
  return until(`B acknowledges seq ${seq}`, async () => {
    const { replica } = await stats();
    return (replica.replicaAck ?? -1) >= seq ? replica : undefined;
  });
}

/** counter is B's sample of the /metrics counter `name` (undefined: none). */
async function counter(name: string): Promise<number | undefined> {
  const families = parseExposition(await (await fetch(`http://${A}/metrics`)).text());
  const family = families.get(name);
  assert.ok(family?.type === 'counter', `${name} is a counter family`);
  return family.samples.find(
    (s) =>
      s.name === name && s.labels.role === 'replica' && s.labels.node === B && s.labels.shard === 'shard-0',
  )?.value;
}

const RING = 'distkv_store_replication_ring_batches_total';
const FALLBACK = 'distkv_store_replication_fallback_pulls_total';

/** put writes `value` under `key` at A. */
async function put(key: string, value: string): Promise<void> {
  const r = await fetch(`http://${A}/kv/${key}`, { method: 'PUT', body: value });
  assert.equal(r.status, 204, await r.text());
}

describe("a ring replica's counters in /stats and /metrics", () => {
  let ringSeen = 0;
  let fallbackSeen = 0;

  it('counts the batches taken from the ring', async () => {
    for (let i = 0; i < 20; i++) await put(`small-${i}`, `v${i}`);
    const { leaderSeq } = await stats();
    // The first pull after a start goes to the leader's log (it checks the replica's position);
    // the writes after it come through the ring.
    const replica = await until('B takes batches from the ring', async () => {
      const r = await caughtUp(leaderSeq);
      return (r.ringBatches ?? 0) > 0 ? r : undefined;
    });
    assert.ok((replica.fallbackPulls ?? 0) >= 1, `the first pull read the log: ${JSON.stringify(replica)}`);
    const ring = await counter(RING);
    const fallback = await counter(FALLBACK);
    assert.ok(ring !== undefined && ring > 0, `${RING} is ${String(ring)}`);
    assert.ok(fallback !== undefined && fallback >= 1, `${FALLBACK} is ${String(fallback)}`);
    ringSeen = ring;
    fallbackSeen = fallback;
  });

  it('counts a pull the ring could not answer: a value larger than the ring', async () => {
    const before = (await stats()).replica;
    await put('big', 'x'.repeat(100_000));
    const { leaderSeq } = await stats();
    const replica = await caughtUp(leaderSeq);
    assert.ok(
      (replica.fallbackPulls ?? 0) > (before.fallbackPulls ?? 0),
      `fallbackPulls went from ${String(before.fallbackPulls)} to ${String(replica.fallbackPulls)}`,
    );
    const fallback = await counter(FALLBACK);
    assert.ok(
      fallback !== undefined && fallback > fallbackSeen,
      `${FALLBACK}: ${fallbackSeen} → ${String(fallback)}`,
    );
    fallbackSeen = fallback;
    const ring = await counter(RING);
    assert.ok(ring !== undefined && ring >= ringSeen, `${RING}: ${ringSeen} → ${String(ring)}`);
    ringSeen = ring;
  });

  it("keeps the /metrics totals when the replica's worker restarts (its /stats count from zero)", async () => {
    const before = (await stats()).replica;
    // A read of "crash-now" at B goes to B's replica store, on its own worker, which crashes
    // (answered or not: the crash comes on the worker's next turn).
    await fetch(`http://${B}/kv/crash-now`).then((r) => r.arrayBuffer());
    const restarted = await until("B's worker restarts and its replica follows again", async () => {
      const { replica } = await stats();
      return replica.ringBatches !== undefined && replica.ringBatches < (before.ringBatches ?? 0)
        ? replica
        : undefined;
    });
    assert.ok(
      restarted.fallbackPulls !== undefined,
      `B's new follower reports: ${JSON.stringify(restarted)}`,
    );
    const ring = await counter(RING);
    const fallback = await counter(FALLBACK);
    assert.ok(ring !== undefined && ring >= ringSeen, `${RING} went down: ${ringSeen} → ${String(ring)}`);
    assert.ok(
      fallback !== undefined && fallback >= fallbackSeen,
      `${FALLBACK} went down: ${fallbackSeen} → ${String(fallback)}`,
    );
    // And it goes on counting from there: the restarted follower's batches are added.
    await put('after-restart', 'v');
    const { leaderSeq } = await stats();
    const replica = await until('B takes batches from the ring again', async () => {
      const r = await caughtUp(leaderSeq);
      return (r.ringBatches ?? 0) > 0 ? r : undefined;
    });
    const ringAfter = await counter(RING);
    assert.ok(
      ringAfter !== undefined && ringAfter >= ringSeen + (replica.ringBatches ?? 0),
      `${RING}: ${ringSeen} before the restart, ${String(ringAfter)} after ${String(replica.ringBatches)} more`,
    );
  });
});
