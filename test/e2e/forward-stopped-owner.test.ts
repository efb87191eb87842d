/**
 * A scan and a batch sent to node A whose other part belongs to node B, stopped with SIGSTOP (a
 * node that holds its connections and answers nothing): A gives up on B after
 * `server.forward_timeout_ms` (here 400 ms, not a fixed 2 s) and says so by shard, owner and bound.
 * The scan is a 503 with A's own keys as `partial`, never a 200 that looks whole; the batch
 * reports A's operations applied (they are) and B's as OUTCOME_UNKNOWN: they may have been applied.
 * Ten `--proxy` writes pipelined on one connection to A for a key of B: the first times out
 * (a relay's 10 s), and the nine behind it are answered with it, held back and never sent, so B
 * cannot apply them after the first once it resumes (the first's code says it may have been applied,
 * OUTCOME_UNKNOWN, theirs that they were not, SHARD_UNREACHABLE). They waited 10 s each before. Nor does B
 * apply the first when it resumes: it reads it past the deadline the write carried.
 * Once B is killed (its port refuses connections), B's operations are reported not applied.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RELAY_TIMEOUT_MS } from '../../src/http/forwarder.js';
import type { ShardMap } from '../../src/routing/shard-map.js';
import { Duo } from '../helpers/duo.js';
import { openRaw, until } from '../helpers/raw-conn.js';
import { pauseProcess } from '../helpers/process-pause.js';

const FORWARD_MS = 400;

describe('a scan and a batch spanning a node stopped with SIGSTOP', () => {
  let duo: Duo | undefined;
  let a = '';
  let b = '';
  let map: ShardMap;

  before(async () => {
    duo = await Duo.start('forward-stopped', {
      extraToml: `[server]\nforward_timeout_ms = ${FORWARD_MS}\n`,
      args: ['--proxy', '--inline'],
    });
    ({ A: a, B: b, map } = duo);
  });

  after(async () => {
    await duo?.stop();
  });

  it('names the owner and the bound it missed after forward_timeout_ms, and reports no part wrongly', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `st:${String(i).padStart(2, '0')}`);
    const ownerOf = (k: string): string => (map.shardOf(k) === 0 ? a : b);
    assert.ok(keys.some((k) => ownerOf(k) === a) && keys.some((k) => ownerOf(k) === b));
    for (const k of keys) {
      const r = await fetch(`http://${ownerOf(k)}/kv/${k}`, { method: 'PUT', body: 'old' });
      assert.equal(r.status, 204);
    }
    const child = duo!.cluster.process(b).child;
    await pauseProcess(child);
    try {
      const bound = `no answer within ${FORWARD_MS} ms (server.forward_timeout_ms)`;
      let start = performance.now();
      const scan = await fetch(`http://${a}/kv?prefix=st:&limit=100`);
      const scanMs = performance.now() - start;
      assert.equal(scan.status, 503);
      const page = (await scan.json()) as {
        error: { code: string; message: string };
        partial: { items: { key: string }[] };
      };
      assert.equal(page.error.code, 'SHARD_UNREACHABLE');
      assert.equal(page.error.message, `scan incomplete: shard 1 (owner ${b}: ${bound})`);
      assert.deepEqual(
        page.partial.items.map((i) => i.key),
        keys.filter((k) => ownerOf(k) === a),
      );
      assert.ok(scanMs < 1800, `the scan answered after ${scanMs.toFixed(0)} ms`);

      start = performance.now();
      const batch = await fetch(`http://${a}/kv/_batch`, {
        method: 'POST',
        body: JSON.stringify(keys.map((key) => ({ op: 'set', key, value: 'new' }))),
      });
      const batchMs = performance.now() - start;
      assert.equal(batch.status, 200);
      const { results } = (await batch.json()) as {
        results: { ok: boolean; error?: { code: string; message: string } }[];
      };
      for (const [i, k] of keys.entries()) {
        if (ownerOf(k) === a) assert.deepEqual(results[i], { ok: true }, k);
        else {
          assert.equal(results[i]!.error?.code, 'OUTCOME_UNKNOWN', k);
          assert.equal(
            results[i]!.error.message,
            `shard 1 (owner ${b}) did not answer: ${bound}; the operations sent to it may have been applied`,
          );
        }
      }
      assert.ok(batchMs < 1800, `the batch answered after ${batchMs.toFixed(0)} ms`);
      // What was reported applied is.
      for (const k of keys.filter((x) => ownerOf(x) === a))
        assert.equal(await (await fetch(`http://${a}/kv/${k}`)).text(), 'new', k);
    } finally {
      child.kill('SIGCONT');
    }
  });

  it('answers ten pipelined --proxy writes behind the stopped owner in one relay bound, the nine behind the first not applied', async () => {
    const N = 10;
    const key = duo!.keyOf(1, 'piped-');
    assert.equal((await fetch(`http://${b}/kv/${key}`, { method: 'PUT', body: 'old' })).status, 204);
    const at = a.lastIndexOf(':');
    const conn = await openRaw(Number(a.slice(at + 1)), a.slice(0, at));
    const child = duo!.cluster.process(b).child;
    await pauseProcess(child);
    let ms = 0;
    try {
      const start = performance.now();
      conn.sock.write(
        Array.from(
          { length: N },
          (_, i) => `PUT /kv/${key} HTTP/1.1\r\nHost: ${a}\r\nContent-Length: 2\r\n\r\nv${String(i)}`,
        ).join(''),
      );
      // One relay bound (RELAY_TIMEOUT_MS) and some; the old code took one bound per write.
      await until(() => (conn.text().match(/^HTTP\/1\.1 /gm) ?? []).length >= N, 1.8 * RELAY_TIMEOUT_MS);
      ms = performance.now() - start;
    } finally {
      child.kill('SIGCONT');
      conn.sock.destroy();
    }
    const statuses = (conn.text().match(/^HTTP\/1\.1 \d+/gm) ?? []).map((l) => l.slice(9));
    assert.equal(
      statuses.length,
      N,
      `${String(statuses.length)} of ${String(N)} answered in ${ms.toFixed(0)} ms`,
    );
    assert.ok(
      statuses.every((s) => s === '503'),
      statuses.join(),
    );
    const messages = [...conn.text().matchAll(/"message":("(?:[^"\\]|\\.)*")/g)].map(
      (m) => JSON.parse(m[1]!) as string,
    );
    assert.match(
      messages[0]!,
      /^shard 1 \(owner .*\) did not answer the forwarded request: no answer within .*; the write may have been applied$/,
    );
    for (const m of messages.slice(1))
      assert.match(m, /so this one was held back; nothing was sent to it: the write was not applied$/);
    const codes = [...conn.text().matchAll(/"code":"([A-Z_]+)"/g)].map((m) => m[1]);
    assert.deepEqual(codes, ['OUTCOME_UNKNOWN', ...Array<string>(N - 1).fill('SHARD_UNREACHABLE')]);
    // B, resumed, reads the first write past the deadline it carried and does not apply it
    // (forward-deadline.ts); none of the others reached it. A write sent now is the last one.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await (await fetch(`http://${b}/kv/${key}`)).text(), 'old');
    assert.equal((await fetch(`http://${a}/kv/${key}`, { method: 'PUT', body: 'later' })).status, 204);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await (await fetch(`http://${b}/kv/${key}`)).text(), 'later');
  });

  it('says none of the operations for an owner killed with SIGKILL was applied (its connection was refused)', async () => {
    await duo!.cluster.kill(b);
    const keys = ['gone:1', 'gone:2', 'gone:3', 'gone:4', 'gone:5', 'gone:6'];
    const onB = keys.filter((k) => map.shardOf(k) === 1);
    assert.ok(onB.length > 0 && onB.length < keys.length);
    const batch = await fetch(`http://${a}/kv/_batch`, {
      method: 'POST',
      body: JSON.stringify(keys.map((key) => ({ op: 'set', key, value: 'v' }))),
    });
    const { results } = (await batch.json()) as {
      results: { ok: boolean; error?: { code: string; message: string } }[];
    };
    for (const [i, k] of keys.entries()) {
      if (map.shardOf(k) === 0) assert.deepEqual(results[i], { ok: true }, k);
      else {
        assert.equal(results[i]!.error?.code, 'SHARD_UNREACHABLE', k);
        assert.match(
          results[i]!.error.message,
          new RegExp(
            `^shard 1 \\(owner ${b}\\) could not be reached: .*; nothing was sent to it, so none of its operations was applied$`,
          ),
        );
      }
    }
  });
});
