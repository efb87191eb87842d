/**
 * Two nodes started one after the other, as operators start a cluster: the node that started
 * first counted the other unreachable, and must learn that it is up once it is, not at its next
 * peer round (PEER_CHECK_MS later). A later node's start asks the first for its `/cluster`, naming
 * itself (PeerCheck.heardFrom), and the first asks it back. Before, for up to two seconds after
 * both served, the first node's CLUSTER NODES marked the other `fail` and its CLUSTER SLOTS left
 * out the other's slots: `redis-cli --cluster check` found slots uncovered, and a test that ran a
 * failover at once read an empty CLUSTER SLOTS. (The asked node acts on it only after its own
 * first round, once its stores are attached: src/server/peer-check.ts.)
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { mutualLayout, TestCluster } from '../helpers/cluster.js';
import { freeNodeAddress, redisCli, respOf, runTool } from '../helpers/resp.js';
import { tempDir } from '../helpers/temp-dir.js';

let cluster: TestCluster | undefined;

after(async () => {
  await cluster?.stop();
});

// Created here: registered after the stop hook, so the servers stop first.
const dir = tempDir(after);

interface PeerEntry {
  address: string;
  state: string;
  checked_ms_ago?: number;
}

/** peerOf returns what `node`'s last check found of `peer` (its `/cluster` → `peers`). */
async function peerOf(node: string, peer: string): Promise<PeerEntry | undefined> {
  const doc = (await (await fetch(`http://${node}/cluster`)).json()) as { peers?: PeerEntry[] };
  return doc.peers?.find((p) => p.address === peer);
}

/** until polls `probe` every 20 ms until it is true, within `ms`; returns whether it became true. */
async function until(probe: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (await probe()) return true;
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** STARTS is how many times B is started after A's round found it down (see the test). */
const STARTS = 3;

describe('a node started after its peer', { timeout: 120_000 }, () => {
  it('is seen up by the peer as soon as it serves: CLUSTER NODES has no fail flag and --cluster check covers every slot', async (t) => {
    const A = await freeNodeAddress();
    const B = await freeNodeAddress();
    cluster = await TestCluster.start({ dir, shards: mutualLayout(A, B, 2), later: [B] });
    // Without the ask-back A's CLUSTER NODES said `fail` only when B served before A's next round
    // (B's /cluster answers while it starts, so a round that came by then saw it up): B is started
    // several times, each right after a round of A found it down, so a slow start cannot hide it.
    for (let i = 1; i <= STARTS; i++) {
      // Start B right after A's round found it unreachable: A's next round is ~2 s away.
      const fresh = await until(async () => {
        const p = await peerOf(A, B);
        return p?.state === 'unreachable' && (p.checked_ms_ago ?? Infinity) < 200;
      }, 10_000);
      assert.ok(fresh, `A counted B unreachable: ${JSON.stringify(await peerOf(A, B))}`);
      const t0 = performance.now();
      await cluster.startNode(B);
      const served = performance.now() - t0;
      t.diagnostic(`start ${String(i)}: B served ${String(Math.round(served))} ms after it was started`);
      const nodes = await redisCli(A, ['CLUSTER', 'NODES']);
      const lineOfB = nodes.split('\n').find((l) => l.includes(`:${String(respOf(B).port)}@`)) ?? '';
      assert.doesNotMatch(
        lineOfB,
        /fail/,
        `start ${String(i)}: A's CLUSTER NODES as B serves (${String(Math.round(served))} ms after start): ${nodes}`,
      );
      if (i < STARTS) await cluster.stopNode(B);
    }
    const { host, port } = respOf(A);
    const check = await runTool('redis-cli', ['--cluster', 'check', `${host}:${String(port)}`]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /\[OK\] All 16384 slots covered\./);
    assert.equal((await peerOf(A, B))?.state, 'agrees');
  });
});
