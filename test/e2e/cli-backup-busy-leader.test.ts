/**
 * `distkv backup` against a leader that is busy: every snapshot slot of its store is held by
 * streams nobody reads (503 REPLICATION_BUSY with Retry-After, src/http/repl-admission.ts). The
 * busy node is the shard's leader: the backup must say the leader is busy and ask it again after
 * Retry-After, not go "looking for its leader" (it said so, and an operator looked for a failover
 * that never happened); it says the wait once, not at each retry, and finishes once the streams
 * are gone. Every loop is bounded in count and time; every socket is closed at the end.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LOG_MS } from '../../src/cli/progress-line.js';
import { SNAPSHOT_STREAMS_PER_STORE } from '../../src/http/repl-admission.js';
import { freePorts } from '../helpers/ports.js';
import { nodesFixture, spawnCli, startConfigNode, writeConfig } from '../helpers/server-process.js';

const { dir, running } = nodesFixture(after, 'distkv-backup-busy-');
/** HELD_MS is how long the unread streams hold the leader's snapshot slots once the backup started. */
const HELD_MS = 3000;
/** VALUES is how many values of 1 MB the leader holds. */
const VALUES = 64;

/** openUnread opens `n` connections to `node`, each asking a snapshot of shard 0 and never reading it. */
function openUnread(node: string, n: number): Socket[] {
  const [host, port] = node.split(':');
  return Array.from({ length: n }, () => {
    const s = connect({ host, port: Number(port) });
    s.on('error', () => undefined);
    s.write(`GET /_repl/snapshot?shard=0 HTTP/1.1\r\nHost: ${node}\r\n\r\n`);
    s.pause();
    return s;
  });
}

describe('distkv backup whose leader is busy (503 REPLICATION_BUSY)', () => {
  it('says the leader is busy, asks the same leader again, and copies the shard once its streams end', async (t) => {
    const [pl, pr] = await freePorts(2);
    const L = `127.0.0.1:${pl}`;
    const config = writeConfig(dir, [{ address: L, replicas: [`127.0.0.1:${pr}`] }]);
    await startConfigNode(config, L, join(dir, 'leader'), running);
    // VALUES MB of values: more than an unread stream's socket buffers take (loopback's receive
    // buffer grows to 32 MiB), so it holds its slot.
    const big = Buffer.alloc(1000 * 1000, 3);
    for (let i = 0; i < VALUES; i++) {
      const r = await fetch(`http://${L}/kv/big-${i}`, { method: 'PUT', body: big });
      await r.arrayBuffer();
      assert.equal(r.status, 204);
    }
    const socks = openUnread(L, SNAPSHOT_STREAMS_PER_STORE);
    try {
      // Bounded: the slots are taken within a few seconds of the requests. A probe that got a
      // stream (asked before the unread ones were) is cut at once, giving its slot back.
      const deadline = Date.now() + 10000;
      for (;;) {
        await new Promise((res) => setTimeout(res, 300));
        const busy = await fetch(`http://${L}/_repl/snapshot?shard=0`, {
          signal: AbortSignal.timeout(10000),
        });
        if (busy.status === 503) {
          assert.match(await busy.text(), /REPLICATION_BUSY/);
          break;
        }
        await busy.body?.cancel();
        assert.ok(Date.now() < deadline, `the unread streams did not hold the slots: ${busy.status}`);
      }
      const started = performance.now();
      const backup = spawnCli(['backup', join(dir, 'busy.dkvb'), '--url', `http://${L}`]);
      await new Promise((res) => setTimeout(res, HELD_MS));
      for (const s of socks) s.destroy();
      const done = await backup.result;
      const tookMs = performance.now() - started;
      t.diagnostic(
        `backup took ${Math.round(tookMs)} ms; stderr: ${done.stderr.replace(/\s+/g, ' ').slice(0, 400)}`,
      );
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stdout, new RegExp(`shard 0 shard-0: ${VALUES} keys at seq ${VALUES}`));
      assert.doesNotMatch(done.stderr, /looking for its leader/, 'a busy leader is the leader');
      const waits = done.stderr.split('\n').filter((l) => l.includes(`REPLICATION_BUSY at ${L}`));
      assert.ok(waits.length >= 1, `the wait is said at once:\n${done.stderr}`);
      assert.match(waits[0]!, /its leader is busy .*; asking it again every 1 s \(its Retry-After\)/);
      // Once as the wait starts, then as progress is (every LOG_MS to a log), not at each retry.
      assert.ok(
        waits.length <= 1 + Math.floor(tookMs / LOG_MS),
        `${waits.length} wait lines in ${Math.round(tookMs)} ms:\n${done.stderr}`,
      );
    } finally {
      for (const s of socks) s.destroy();
    }
  });
});
