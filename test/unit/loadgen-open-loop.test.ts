/**
 * The load generator's open loop (`--rate`) corrects for coordinated omission: when the server
 * stalls once for 300 ms, every operation that fell due during the stall is measured from its due
 * time, so the stall shows in the percentiles; the closed loop sees it in one sample only.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { runThread, type ThreadTask } from '../../src/loadgen/load-thread.js';
import { LatencyHistogram } from '../../src/loadgen/histogram.js';
import { freePort } from '../helpers/ports.js';

let server: Server;
let port = 0;
let stallAt = 0;

function task(rate: number): ThreadTask {
  return {
    mode: 'run',
    target: { kind: 'http', host: '127.0.0.1', port, urls: [] },
    connections: 1,
    mix: [1, 0, 0],
    keys: 10,
    keyFirst: 0,
    keyLast: 0,
    keyPrefix: 'k',
    dist: 'uniform',
    valueSize: 1,
    seed: 1,
    warmupMs: 0,
    durationMs: 1200,
    requests: 0,
    rate,
    progress: new SharedArrayBuffer(8),
    slot: 0,
  };
}

before(async () => {
  port = await freePort();
  server = createServer((_req, res) => {
    // One stall of 300 ms, 300 ms into each run.
    if (stallAt !== 0 && Date.now() >= stallAt) {
      stallAt = 0;
      setTimeout(() => res.end('v'), 300);
    } else res.end('v');
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
});

after(() => {
  server.close();
});

describe('load generator open loop', () => {
  it('counts a stall against every operation that fell due during it (rate), not just one (closed loop)', async () => {
    stallAt = Date.now() + 300;
    const open = await runThread(task(200));
    const o = LatencyHistogram.decode(open.histogram);
    stallAt = Date.now() + 300;
    const closed = await runThread(task(0));
    const c = LatencyHistogram.decode(closed.histogram);
    assert.equal(open.errors + closed.errors, 0);
    // 200/s for 1.2 s ≈ 240 operations; ~60 were due during the stall and wait up to 300 ms.
    assert.ok(open.ok > 180 && open.ok < 260, `open loop issued ${open.ok}`);
    assert.ok(o.percentile(90) > 50_000, `open-loop p90 ${o.percentile(90)} µs should show the stall`);
    assert.ok(c.percentile(90) < 20_000, `closed-loop p90 ${c.percentile(90)} µs`);
    assert.ok(c.summary().max_us > 250_000, 'the closed loop still sees the one stalled request');
  });

  it('ends at once at a stop (Ctrl-C) without counting connections idle until their next due time as timeouts', async () => {
    // 4 connections at 0.4 ops/s in all: each is due every 10 s, so after its first operation it waits.
    const stop = new SharedArrayBuffer(4);
    const t = { ...task(0.4), connections: 4, durationMs: 60_000, stop };
    const started = performance.now();
    const done = runThread(t);
    setTimeout(() => Atomics.store(new Int32Array(stop), 0, 1), 500);
    const r = await done;
    assert.ok(performance.now() - started < 3000, `took ${Math.round(performance.now() - started)} ms`);
    assert.equal(r.errors, 0, JSON.stringify(r.byStatus));
    assert.ok(r.ok >= 1 && r.ok <= 4, `ok ${r.ok}`);
  });
});
