/**
 * The failover e2e tests' model and probes (test/e2e/failover*.test.ts): a bounded write load whose
 * acknowledged writes are the model, per-node views (`/cluster`, the store's `/stats`, a full local
 * scan, divergence files) and the convergence check: every acknowledged write is readable, and every
 * member holds exactly the leader's content.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DistkvClient } from '../../src/client/client.js';
import { OutcomeUnknownError } from '../../src/errors.js';
import type { LiveMap } from '../../src/routing/live-map.js';
import { runCli } from './server-process.js';

/** ClusterDoc is the part of GET /cluster the tests read. */
export interface ClusterDoc {
  map_version: number;
  map: LiveMap;
  shards: { epoch: number; leader: { address: string; writes_held?: boolean } }[];
}

/** clusterOf reads a node's /cluster. */
export async function clusterOf(node: string): Promise<ClusterDoc> {
  return (await (await fetch(`http://${node}/cluster`)).json()) as ClusterDoc;
}

/** leaderSeenBy is the shard's leader in `node`'s map, or undefined when it does not answer. */
export async function leaderSeenBy(node: string): Promise<string | undefined> {
  try {
    return (await clusterOf(node)).shards[0]!.leader.address;
  } catch {
    return undefined;
  }
}

/** failoverTo moves shard-0's leader to `to` with `distkv failover --to` (asked at `to`) and checks `to` then names itself leader. */
export async function failoverTo(to: string, timeoutMs = 20000): Promise<void> {
  const args = ['failover', '--url', `http://${to}`, '--shard', 'shard-0', '--to', to, '--json'];
  const res = await runCli([...args, '--timeout-ms', String(timeoutMs)]);
  assert.equal(res.code, 0, `failover to ${to}: ${res.stderr}`);
  assert.equal((await clusterOf(to)).shards[0]!.leader.address, to);
}

/** storeOf reads the /stats entry of the one store a node hosts. */
export async function storeOf(node: string): Promise<{ role: string; lastSeq: number; keys: number }> {
  const doc = (await (await fetch(`http://${node}/stats`)).json()) as {
    stores: { role: string; lastSeq: number; keys: number }[];
  };
  return doc.stores[0]!;
}

/** SWITCHING_MS bounds how long a scan page is retried while the node answers 503 SWITCHING_LEADER. */
const SWITCHING_MS = 10_000;

/**
 * dumpAt scans everything a node serves locally (a replica's address reads its own store). A
 * leader past its own lease deadline refuses reads (503 SWITCHING_LEADER) until its next
 * keepalive answers: on a loaded machine (a 1 s TTL leaves 650 ms of stall) that happens to a
 * healthy leader, so a page is retried then, as the client library does, for SWITCHING_MS.
 */
export async function dumpAt(node: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let next: string | null = '';
  const until = performance.now() + SWITCHING_MS;
  while (next !== null) {
    const r = await fetch(
      `http://${node}/kv?limit=1000${next === '' ? '' : `&after=${encodeURIComponent(next)}`}`,
    );
    const page = (await r.json()) as {
      items: { key: string; value: string }[];
      next: string | null;
      error?: { code: string };
    };
    if (r.status === 503 && page.error?.code === 'SWITCHING_LEADER' && performance.now() < until) {
      await new Promise((done) => setTimeout(done, 100));
      continue;
    }
    assert.equal(r.status, 200, `scan of ${node}: ${JSON.stringify(page)}`);
    for (const i of page.items) out.set(i.key, i.value);
    next = page.next;
  }
  return out;
}

/** waitFor polls `check` until it holds, failing after `ms`. */
export async function waitFor(what: string, check: () => Promise<boolean>, ms = 20000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/**
 * takesWrites waits (up to `ms`) until a PUT of `key` at `leader` is acknowledged. A member just
 * promoted may still answer 503 SWITCHING_LEADER (taking its lease over, its fence): retried, as a
 * client retries it; any other answer fails at once.
 */
export async function takesWrites(leader: string, key: string, ms = 10000): Promise<void> {
  await waitFor(
    `${leader} to take writes`,
    async () => {
      const r = await fetch(`http://${leader}/kv/${key}`, { method: 'PUT', body: `v-${key}` });
      const text = await r.text();
      if (r.status === 204) return true;
      if (r.status === 503 && text.includes('SWITCHING_LEADER')) return false;
      return assert.fail(`${leader} answered a write ${String(r.status)} ${text}`);
    },
    ms,
  );
}

/** agreedLeader waits (up to `ms`) until every one of `members` names one leader whose store leads, and returns it. */
export async function agreedLeader(members: readonly string[], ms = 30000): Promise<string> {
  let now: string | undefined;
  await waitFor(
    'every member to name one leader that leads',
    async () => {
      const seen = await Promise.all(members.map((m) => leaderSeenBy(m)));
      now = seen[0];
      return now !== undefined && seen.every((s) => s === now) && (await storeOf(now)).role === 'leader';
    },
    ms,
  );
  return now!;
}

/** LOAD_MAX_MS bounds how long a Load writes (longer than any test that uses one runs). */
const LOAD_MAX_MS = 300_000;
/** CONVERGE_READS is how many of the acknowledged keys expectConverged reads at once. */
const CONVERGE_READS = 64;
/** FAILED_WRITE_PAUSE_MS is how long a load loop waits after a failed write before its next. */
const FAILED_WRITE_PAUSE_MS = 10;

/**
 * Load writes distinct keys with write concern `w` from `concurrency` loops until stopped (bounded
 * by `max` writes, by `maxMs` and by the caller's stop); `acked` is the model: every write acknowledged.
 */
export class Load {
  readonly acked = new Map<string, string>();
  failed = 0;
  /**
   * unsentFailed counts the failed writes the client knows were never applied (every failure but
   * an OutcomeUnknownError, whose write may have been), and `why` the failures by message.
   */
  unsentFailed = 0;
  readonly why = new Map<string, number>();
  private n = 0;
  private stopped = false;
  /** ended is how many of the loops have ended (by `max`, `maxMs` or stop). */
  private ended = 0;
  private readonly loops: Promise<void>[];

  /**
   * The loops stop by themselves after `max` writes or `maxMs` (LOAD_MAX_MS), whichever comes first:
   * a test that fails before it calls `stop` must not leave them writing to stopped nodes for ever.
   */
  constructor(
    client: DistkvClient,
    prefix: string,
    concurrency: number,
    max: number,
    w = 1,
    maxMs = LOAD_MAX_MS,
  ) {
    const deadline = performance.now() + maxMs;
    this.loops = Array.from({ length: concurrency }, async () => {
      while (!this.stopped && this.n < max && performance.now() < deadline) {
        const i = this.n++;
        const key = `${prefix}-${i}`;
        const value = `v${i}-${'x'.repeat(i % 97)}`;
        try {
          await client.put(key, value, w === 0 ? {} : { w, timeoutMs: 5000 });
          this.acked.set(key, value);
        } catch (err) {
          this.failed++;
          if (!(err instanceof OutcomeUnknownError)) this.unsentFailed++;
          const why = String(err).slice(0, 300);
          this.why.set(why, (this.why.get(why) ?? 0) + 1);
          // A client that rejects at once (every node refusing connections) must not spend the
          // loop's whole `max` in one burst: the writes are meant to span the failover.
          await sleep(FAILED_WRITE_PAUSE_MS);
        }
      }
      this.ended++;
    });
  }

  /**
   * until waits for `count` acknowledged writes. A load whose loops have all ended short of it (its
   * `max` spent, some writes failed) fails at once, saying so, where the wait would time out: keep
   * `max` well above any count awaited, since writes may fail around a failover.
   */
  async until(count: number, ms = 30000): Promise<void> {
    await waitFor(
      `${count} acknowledged writes`,
      () => {
        if (this.acked.size >= count) return Promise.resolve(true);
        if (this.ended === this.loops.length)
          assert.fail(
            `the load ended with ${this.acked.size} acknowledged writes of the ${count} awaited (${this.failed} failed)`,
          );
        return Promise.resolve(false);
      },
      ms,
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
}

/** divergedOf reads a node's divergence counters, the names of its divergence files and their bytes. */
export async function divergedOf(node: string): Promise<{ records: number; files: string[]; bytes: Buffer }> {
  const st = (await (await fetch(`http://${node}/stats`)).json()) as {
    stores: { dir: string; divergedRecords?: number }[];
  };
  const store = st.stores[0]!;
  const parent = dirname(store.dir);
  const files = readdirSync(parent).filter((f) => f.startsWith(`${basename(store.dir)}.diverged-`));
  return {
    records: store.divergedRecords ?? 0,
    files,
    bytes: Buffer.concat(files.map((f) => readFileSync(join(parent, f)))),
  };
}

/**
 * expectConverged checks that every acknowledged write reads back through `client`, that `leader`
 * leads and holds them, and that every other member follows it with exactly its content.
 */
export async function expectConverged(
  client: DistkvClient,
  members: readonly string[],
  leader: string,
  acked: Map<string, string>,
): Promise<void> {
  // Read CONVERGE_READS at a time: one after another took ~1 s per call of a few thousand keys.
  const entries = [...acked];
  for (let i = 0; i < entries.length; i += CONVERGE_READS) {
    const part = entries.slice(i, i + CONVERGE_READS);
    const got = await Promise.all(part.map(([k]) => client.get(k)));
    part.forEach(([k, v], j) => {
      assert.equal(got[j]?.toString(), v, `acknowledged ${k}`);
    });
  }
  const want = await storeOf(leader);
  assert.equal(want.role, 'leader');
  for (const n of members.filter((m) => m !== leader))
    await waitFor(
      `${n} to reach seq ${want.lastSeq}`,
      async () => (await storeOf(n)).lastSeq >= want.lastSeq,
    );
  const leaderDump = await dumpAt(leader);
  for (const [k, v] of acked) assert.equal(leaderDump.get(k), v, `${k} on the leader`);
  for (const n of members.filter((m) => m !== leader)) {
    assert.equal((await storeOf(n)).role, 'replica', `${n} follows`);
    const mine = await dumpAt(n);
    const differ = [...new Set([...mine.keys(), ...leaderDump.keys()])].filter(
      (k) => mine.get(k) !== leaderDump.get(k),
    );
    assert.deepEqual(
      differ.slice(0, 10).map((k) => [k, mine.get(k), leaderDump.get(k)]),
      [],
      `${n} holds the leader's content (${differ.length} keys differ: key, replica, leader)`,
    );
  }
}

/** admin POSTs to a node's admin endpoint and returns its JSON answer (throws on an error status). */
export async function admin(node: string, path: string, body?: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://${node}${path}`, {
    method: 'POST',
    ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  assert.ok(res.ok, `POST ${path} at ${node}: ${res.status} ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** putAt writes one key at `node` directly (no retries, no redirects) and answers the status. */
export async function putAt(node: string, key: string): Promise<number> {
  const res = await fetch(`http://${node}/kv/${key}`, { method: 'PUT', body: 'v', redirect: 'manual' });
  await res.arrayBuffer();
  return res.status;
}
