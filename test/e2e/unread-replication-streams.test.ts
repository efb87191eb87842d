/**
 * Careless clients of the replication endpoints (docs/api.md, "Internal endpoints") on a node
 * without `server.token`, its own `distkv serve --node` process on loopback: snapshot streams and
 * pulls whose answers are never read must not stop the leader from acknowledging writes.
 * Every loop is bounded in count and time; every socket is closed at the end.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { ServerProcess, spawnCli, writeConfig } from '../helpers/server-process.js';

let dir = '';
let L = '';
let R = '';
let config = '';
const running = new Map<string, ServerProcess>();

async function start(node: string, file = config): Promise<void> {
  const p = await ServerProcess.start(
    ['--config', file, '--node', node, '--data-dir', join(dir, node.replace(':', '_')), '--workers', '1'],
    `http://${node}/healthz`,
    { DISTKV_LOG_LEVEL: 'warn' },
  );
  running.set(node, p);
}

/** openUnread opens `n` connections to `node`, each sending `path` and never reading its answer. */
function openUnread(node: string, path: string, n: number): Socket[] {
  const [host, port] = node.split(':');
  const socks: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = connect({ host, port: Number(port) });
    s.on('error', () => undefined);
    s.write(`GET ${path} HTTP/1.1\r\nHost: ${node}\r\n\r\n`);
    s.pause();
    socks.push(s);
  }
  return socks;
}

/** rssMiB is the resident memory of process `pid` in MiB (0 when it cannot be read: not Linux). */
function rssMiB(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
    return m === null ? 0 : Math.round(Number(m[1]) / 1024);
  } catch {
    return 0;
  }
}

/** slowestPut writes `count` keys one after another, every 100 ms, and resolves with the slowest answer's ms. */
async function slowestPut(node: string, prefix: string, count: number): Promise<number> {
  let slowest = 0;
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    const r = await fetch(`http://${node}/kv/${prefix}-${i}`, {
      method: 'PUT',
      body: 'v',
      signal: AbortSignal.timeout(30000),
    });
    await r.arrayBuffer();
    assert.equal(r.status, 204);
    slowest = Math.max(slowest, performance.now() - t);
    await new Promise((res) => setTimeout(res, 100));
  }
  return slowest;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'distkv-hostile-internal-'));
  const [pl, pr] = await freePorts(2);
  L = `127.0.0.1:${pl}`;
  R = `127.0.0.1:${pr}`;
  config = writeConfig(dir, [{ address: L, replicas: [R] }], '[replication]\npull_wait_ms = 200\n');
});

after(async () => {
  await Promise.all([...running.values()].map((p) => p.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('careless clients that never read their answers, without a token', () => {
  it('keeps acknowledging writes within 3 s while 100 snapshot streams and 100 pulls are never read', async (t) => {
    // A node of its own, whose replica never runs: the shard's records stay in its log.
    mkdirSync(join(dir, 'careless'));
    const [pl, pr] = await freePorts(2);
    const leader = `127.0.0.1:${pl}`;
    const replica = `127.0.0.1:${pr}`;
    await start(leader, writeConfig(join(dir, 'careless'), [{ address: leader, replicas: [replica] }]));
    const big = Buffer.alloc(1000 * 1000, 7);
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`http://${leader}/kv/big-${i}`, { method: 'PUT', body: big });
      await r.arrayBuffer();
      assert.equal(r.status, 204);
    }
    const baseline = await slowestPut(leader, 'calm', 5);
    const pid = running.get(leader)?.child.pid;
    const rssBefore = rssMiB(pid);
    let rssMax = rssBefore;
    const sampler = setInterval(() => {
      rssMax = Math.max(rssMax, rssMiB(pid));
    }, 100);
    const socks = [
      ...openUnread(leader, '/_repl/snapshot?shard=0', 100),
      ...openUnread(
        leader,
        `/_repl/pull?shard=0&after=0&wait_ms=0&max_bytes=67108864&replica=${replica}`,
        100,
      ),
    ];
    try {
      const slowest = await slowestPut(leader, 'under-load', 60);
      t.diagnostic(
        `slowest PUT ${Math.round(slowest)} ms under load, ${Math.round(baseline)} ms before; leader RSS ${rssBefore} MiB before, at most ${rssMax} MiB under load`,
      );
      assert.ok(
        slowest < 3000,
        `a PUT waited ${Math.round(slowest)} ms while 200 internal answers were unread (${Math.round(baseline)} ms before)`,
      );
    } finally {
      clearInterval(sampler);
      for (const s of socks) s.destroy();
    }
  });

  it('refuses what passes its bounds 503 REPLICATION_BUSY with Retry-After, while its real replica keeps acknowledging w=1 writes', async (t) => {
    await start(L);
    await start(R);
    const big = Buffer.alloc(1000 * 1000, 9);
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`http://${L}/kv/big-${i}`, { method: 'PUT', body: big });
      await r.arrayBuffer();
      assert.equal(r.status, 204);
    }
    // The replica follows (a w=1 write is acknowledged) before the load starts.
    const first = await fetch(`http://${L}/kv/ready?w=1&timeout_ms=10000`, { method: 'PUT', body: 'v' });
    await first.arrayBuffer();
    assert.equal(first.status, 204);
    const socks = [
      ...openUnread(L, '/_repl/snapshot?shard=0', 100),
      ...openUnread(L, `/_repl/pull?shard=0&after=0&wait_ms=0&max_bytes=67108864&replica=${R}`, 100),
    ];
    try {
      // The unread streams hold every snapshot slot of the store until they are closed.
      await new Promise((res) => setTimeout(res, 300));
      const busy = await fetch(`http://${L}/_repl/snapshot?shard=0`, { signal: AbortSignal.timeout(10000) });
      const body = (await busy.json()) as { error: { code: string; message: string } };
      assert.equal(busy.status, 503);
      assert.equal(busy.headers.get('retry-after'), '1');
      assert.equal(body.error.code, 'REPLICATION_BUSY');
      assert.match(body.error.message, /snapshot streams/);
      let slowest = 0;
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        const r = await fetch(`http://${L}/kv/acked-${i}?w=1&timeout_ms=3000`, {
          method: 'PUT',
          body: 'v',
          signal: AbortSignal.timeout(30000),
        });
        const text = await r.text();
        assert.equal(r.status, 204, `w=1 write ${i}: ${r.status} ${text}`);
        slowest = Math.max(slowest, performance.now() - t0);
        await new Promise((res) => setTimeout(res, 100));
      }
      t.diagnostic(`slowest w=1 PUT ${Math.round(slowest)} ms under load`);
    } catch (err) {
      for (const s of socks) s.destroy();
      throw err;
    }
    // A backup started while the streams hold the store's slots waits (REPLICATION_BUSY is
    // retried as a moving leader is) and copies the shard once they are gone.
    const backup = spawnCli(['backup', join(dir, 'busy.dkv'), '--url', `http://${L}`]);
    await new Promise((res) => setTimeout(res, 1500));
    for (const s of socks) s.destroy();
    const done = await backup.result;
    assert.equal(done.code, 0, done.stderr);
    t.diagnostic(`backup under load: ${done.stderr.replace(/\s+/g, ' ').slice(0, 300)}`);
    // Once the streams are gone, a snapshot is served again (a backup or a resync goes through).
    const deadline = Date.now() + 10000;
    for (;;) {
      const r = await fetch(`http://${L}/_repl/snapshot?shard=0`, { signal: AbortSignal.timeout(10000) });
      const bytes = (await r.arrayBuffer()).byteLength;
      if (r.status === 200) {
        assert.ok(bytes > 20 * 1000 * 1000, `a snapshot of ${bytes} bytes`);
        break;
      }
      assert.equal(r.status, 503);
      assert.ok(Date.now() < deadline, 'snapshots were still refused 10 s after the streams closed');
      await new Promise((res) => setTimeout(res, 200));
    }
  });
});
