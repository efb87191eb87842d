/**
 * A leader's GET /cluster tells what it heard of the pulls of its replicas in other processes
 * (`replicas[].leader_view`), and `distkv cluster` says the cluster is not healthy (exit 1, a line
 * on stderr per problem) while a replica does not follow, broken as an operator would meet it: one
 * shard, leader A, replicas B (healthy, then SIGSTOPped, then killed), C (started with another
 * server.token: every pull is answered 401) and D (never started). One process per node.
 * Before, A's /cluster showed B, C and D as their addresses alone, and the command printed C as
 * "lag unknown" and exited as if the cluster were healthy but for the nodes that did not answer.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LeaderView } from '../../src/http/replica-pulls.js';
import { TestCluster } from '../helpers/cluster.js';
import { freePorts } from '../helpers/ports.js';
import { pauseProcess } from '../helpers/process-pause.js';
import { runCli, type ShardLayout, writeConfig } from '../helpers/server-process.js';

const TOKEN = 'the-cluster-token';
const auth = { authorization: `Bearer ${TOKEN}` };

let dir = '';
let cluster: TestCluster;
let a = '';
let b = '';
let c = '';
let d = '';

/** viewsAt reads A's /cluster: each replica's leader_view, by address. */
async function viewsAt(): Promise<{ lastSeq: number; views: Map<string, LeaderView | undefined> }> {
  const doc = (await (await fetch(`http://${a}/cluster`)).json()) as {
    shards: { leader: { last_seq: number }; replicas: { address: string; leader_view?: LeaderView }[] }[];
  };
  const s = doc.shards[0]!;
  return { lastSeq: s.leader.last_seq, views: new Map(s.replicas.map((r) => [r.address, r.leader_view])) };
}

/** until polls `f` every 100 ms until it returns a value, for up to `ms`. */
async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${String(ms)} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function put(key: string): Promise<void> {
  const r = await fetch(`http://${a}/kv/${key}`, { method: 'PUT', body: 'v', headers: auth });
  assert.equal(r.status, 204, await r.text());
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'distkv-replica-health-'));
  const ports = await freePorts(4);
  [a, b, c, d] = ports.map((p) => `127.0.0.1:${String(p)}`) as [string, string, string, string];
  const shards: ShardLayout[] = [{ address: a, replicas: [b, c, d] }];
  mkdirSync(join(dir, 'c'));
  // C's file names the same shards (the same topology hash) with another token.
  const cConfig = writeConfig(join(dir, 'c'), shards, '[server]\ntoken = "not-the-token"\n');
  cluster = await TestCluster.start({
    dir,
    shards,
    extraToml: `[server]\ntoken = "${TOKEN}"\n`,
    configs: new Map([[c, cConfig]]),
    later: [d],
    args: ['--inline'],
  });
});

after(async () => {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("a leader's /cluster and distkv cluster, with replicas in other processes", () => {
  it("shows each replica's pulls as its leader heard them: following, refused (401), never", async () => {
    await put('k1');
    const seen = await until('B follows, C refused', 20000, async () => {
      const v = await viewsAt();
      const vb = v.views.get(b);
      return vb?.following === true && vb.acked_seq === v.lastSeq && v.views.get(c)?.refused !== undefined
        ? v
        : undefined;
    });
    const vb = seen.views.get(b)!;
    assert.equal(vb.lag_seqs, 0);
    assert.ok(vb.last_pull_ms_ago! <= 4000, JSON.stringify(vb));
    const vc = seen.views.get(c)!;
    assert.equal(vc.never_pulled, true, JSON.stringify(vc));
    assert.equal(vc.following, false);
    assert.equal(vc.refused!.code, 'UNAUTHORIZED');
    assert.deepEqual(seen.views.get(d), { never_pulled: true, following: false });

    const r = await runCli(['cluster', '--url', a]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const problems = r.stderr.split('\n').filter((l) => l.startsWith('distkv cluster: not healthy: '));
    assert.equal(problems.length, 2, r.stderr);
    assert.match(
      problems.find((l) => l.includes(c)) ?? '',
      /does not follow its leader \(disconnected, lag unknown; .*\); its leader has heard no pull of it since it started and refused the last one \d+ ms ago with UNAUTHORIZED$/,
    );
    assert.match(
      problems.find((l) => l.includes(d)) ?? '',
      new RegExp(`replica ${d} does not answer; its leader has heard no pull of it since it started$`),
    );
    assert.ok(!problems.some((l) => l.includes(b)), r.stderr);
  });

  it('a planned failover to the replica whose pulls are refused (401) is refused before it holds the writes', async () => {
    const t0 = Date.now();
    const f = await runCli(['failover', '--url', a, '--shard', 'shard-0', '--to', c, '--token', TOKEN]);
    assert.notEqual(f.code, 0, f.stdout);
    assert.match(
      f.stderr,
      new RegExp(
        `${c} cannot catch up with its leader, which refused its last pull \\d+ ms ago with UNAUTHORIZED`,
      ),
      f.stderr,
    );
    assert.match(f.stderr, /give it the cluster's token/);
    // It held the shard's writes for --timeout-ms (30 s), then said REPLICATION_TIMEOUT.
    assert.ok(Date.now() - t0 < 15000, `took ${String(Date.now() - t0)} ms`);
    await put('after-refused-failover');
  });

  it('a replica stopped with SIGSTOP: its leader counts the time since its last pull, and the lag', async () => {
    const { lastSeq } = await viewsAt();
    await pauseProcess(cluster.process(b).child);
    try {
      await put('k2');
      const vb = await until('B no longer following', 15000, async () => {
        const v = (await viewsAt()).views.get(b);
        return v?.following === false ? v : undefined;
      });
      assert.equal(vb.acked_seq, lastSeq, JSON.stringify(vb));
      assert.ok(vb.lag_seqs! >= 1, JSON.stringify(vb));
      assert.ok(vb.last_pull_ms_ago! > 1000, JSON.stringify(vb));
      const r = await runCli(['cluster', '--url', a]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(
          `not healthy: shard-0: replica ${b} does not answer; its leader last heard a pull of it \\d+ ms ago \\(at seq ${String(lastSeq)}, \\d+ seqs? behind\\)`,
        ),
      );
      assert.match(
        r.stdout,
        new RegExp(`${b} \\(DOWN; leader: last pull \\d+ ms ago at seq ${String(lastSeq)}\\)`),
      );
    } finally {
      cluster.process(b).child.kill('SIGCONT');
    }
  });

  it('a replica killed: its leader still knows its last pull', async () => {
    await until('B follows again', 20000, async () =>
      (await viewsAt()).views.get(b)?.following === true ? true : undefined,
    );
    const { lastSeq } = await viewsAt();
    await cluster.kill(b);
    const vb = await until('B no longer following', 15000, async () => {
      const v = (await viewsAt()).views.get(b);
      return v?.following === false ? v : undefined;
    });
    assert.equal(vb.acked_seq, lastSeq);
    assert.equal(vb.never_pulled, undefined);
    const r = await runCli(['cluster', '--url', a, '--json']);
    assert.equal(r.code, 1);
    const doc = JSON.parse(r.stdout) as { problems: string[] };
    assert.ok(
      doc.problems.some((p) =>
        p.startsWith(`shard-0: replica ${b} does not answer; its leader last heard a pull`),
      ),
      JSON.stringify(doc.problems),
    );
  });
});
