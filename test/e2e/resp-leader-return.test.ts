/**
 * A leader that comes back is served again at once, not at the next peer round: over two
 * `distkv serve --node` processes that each lead one shard, B stops answering, A answers the keys
 * of B's slots `-CLUSTERDOWN` (B failed A's peer check), and each such answer asks A's peer check
 * to look at B now (PeerCheck.checkSoon, at most once a second: src/resp/key-route.ts). While a
 * client keeps asking A for one of B's keys, A sends it to B (`-MOVED`) as soon as B answers:
 *  - B paused (SIGSTOP) and resumed just after a peer round found it down: within 500 ms (it was
 *    about 1 s before: A answered `-CLUSTERDOWN` until its next round, PEER_CHECK_MS = 2 s apart);
 *  - B killed and started again: within about a second of B serving.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { defaultSlotRange } from '../../src/config/validate-config.js';
import { slotOf } from '../../src/routing/slot.js';
import { mutualLayout, TestCluster } from '../helpers/cluster.js';
import { pauseProcess } from '../helpers/process-pause.js';
import { RespConn } from '../helpers/resp-conn.js';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { tempDir } from '../helpers/temp-dir.js';

/** POLL_MS is how often the client asks A for B's key. */
const POLL_MS = 25;
/** BACK_WITHIN_MS bounds the time from B serving to A sending B's key there: one early check (1 s) and its round trip. */
const BACK_WITHIN_MS = 1500;
/** RESUMED_WITHIN_MS bounds the time from B resumed to A sending B's key there: a poll and a check's round trip. */
const RESUMED_WITHIN_MS = 500;

let cluster: TestCluster;
let A = '';
let B = '';
const dir = tempDir(after);
/** downKey is a key of B's slots. */
const downKey = Array.from({ length: 200 }, (_, i) => `back-${i}`).find(
  (k) => slotOf(k) >= defaultSlotRange(1, 2).first,
)!;

before(async () => {
  A = await freeNodeAddress();
  B = await freeNodeAddress();
  cluster = await TestCluster.start({ dir, shards: mutualLayout(A, B) });
});

after(async () => {
  await cluster.stop();
});

/** ask asks A for B's key once. */
async function ask(conn: RespConn): Promise<string> {
  return (await conn.send([['GET', downKey]], 10000))[0]!;
}

/** downAtA waits (at most 15 s) until A answers B's key -CLUSTERDOWN. */
async function downAtA(conn: RespConn): Promise<void> {
  const deadline = Date.now() + 15000;
  while (!(await ask(conn)).startsWith('-CLUSTERDOWN') && Date.now() < deadline) await sleep(100);
  assert.match(await ask(conn), /^-CLUSTERDOWN Hash slot not served/, 'A found B down');
}

/**
 * Back is a client asking A for B's key every POLL_MS until A sends it to B (or for 60 s at most):
 * `at` is when it was, `last` the last answer.
 */
interface Back {
  at: number | undefined;
  last: string;
  done: Promise<void>;
}

function pollUntilBack(conn: RespConn): Back {
  const back: Back = { at: undefined, last: '', done: Promise.resolve() };
  back.done = (async () => {
    for (const end = Date.now() + 60000; back.at === undefined && Date.now() < end;) {
      back.last = await ask(conn);
      if (!back.last.startsWith('-CLUSTERDOWN')) back.at = performance.now();
      else await sleep(POLL_MS);
    }
  })().catch(() => undefined);
  return back;
}

/** checkedJustNow waits until A's last peer check of B, which found it unreachable, ended under 40 ms ago. */
async function checkedJustNow(): Promise<void> {
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    const doc = (await (await fetch(`http://${A}/cluster`)).json()) as {
      peers?: { address: string; state: string; checked_ms_ago?: number }[];
    };
    const b = doc.peers?.find((p) => p.address === B);
    if (b?.state === 'unreachable' && (b.checked_ms_ago ?? Infinity) < 40) return;
    await sleep(5);
  }
  assert.fail("A's peer check never found B unreachable");
}

describe('RESP for the keys of a leader that comes back', () => {
  it(
    'sends them to it within 500 ms of its answering again, not at the next peer round',
    { timeout: 60000 },
    async (t) => {
      const conn = await RespConn.open(respOf(A));
      const child: ChildProcess = cluster.process(B).child;
      try {
        assert.match(await ask(conn), /^-MOVED /, 'B serves its slots');
        await pauseProcess(child);
        await downAtA(conn);
        // Resumed just after a peer round found it down: the next round is about a second away.
        await checkedJustNow();
        child.kill('SIGCONT');
        const resumedAt = performance.now();
        const back = pollUntilBack(conn);
        await Promise.race([back.done, sleep(10000)]);
        assert.ok(back.at !== undefined, `A still answers ${back.last.trim()} 10 s after B resumed`);
        assert.equal(back.last, `-MOVED ${slotOf(downKey)} ${respOf(B).host}:${respOf(B).port}\r\n`);
        const ms = Math.round(back.at - resumedAt);
        t.diagnostic(`A sent B's key there ${ms} ms after B resumed`);
        assert.ok(ms < RESUMED_WITHIN_MS, `A sent B's key there ${ms} ms after B resumed`);
      } finally {
        child.kill('SIGCONT');
        conn.close();
      }
    },
  );

  // Above the harness's own cap on the restart (TestCluster.startNode's 30 s budget), so a slow
  // start fails there, with the node's log, not here as a bare timeout.
  it(
    'sends them to a restarted leader within about a second of its serving',
    { timeout: 240000 },
    async (t) => {
      const conn = await RespConn.open(respOf(A));
      try {
        assert.match(await ask(conn), /^-MOVED /, 'B serves its slots');
        await cluster.kill(B);
        await downAtA(conn);
        const back = pollUntilBack(conn);
        await cluster.startNode(B);
        const servingAt = performance.now();
        await Promise.race([back.done, sleep(10000)]);
        assert.ok(back.at !== undefined, `A still answers ${back.last.trim()} 10 s after B serves`);
        assert.equal(back.last, `-MOVED ${slotOf(downKey)} ${respOf(B).host}:${respOf(B).port}\r\n`);
        const ms = Math.round(back.at - servingAt);
        t.diagnostic(`A sent B's key there ${ms} ms after B served`);
        assert.ok(ms < BACK_WITHIN_MS, `A sent B's key there ${ms} ms after B served`);
      } finally {
        conn.close();
      }
    },
  );
});
