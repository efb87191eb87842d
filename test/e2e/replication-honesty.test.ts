/**
 * Honest acks and lag across processes (design section 6): a leader node L and a replica node R of
 * one shard, each its own `distkv serve --node` process. Forged or foreign acks are refused, `w`
 * counts only real replicas, a replica cut off from its leader says so, `max_lag_ms` is enforced,
 * and a replica ahead of its leader resyncs.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { ServerProcess, writeConfig } from '../helpers/server-process.js';

let dir = '';
let L = '';
let R = '';
let config = '';
const running = new Map<string, ServerProcess>();

async function start(node: string): Promise<void> {
  const p = await ServerProcess.start(
    ['--config', config, '--node', node, '--data-dir', join(dir, node.replace(':', '_')), '--workers', '1'],
    `http://${node}/healthz`,
    { DISTKV_LOG_LEVEL: 'warn' },
  );
  running.set(node, p);
}

async function stop(node: string): Promise<void> {
  await running.get(node)?.stop();
  running.delete(node);
}

interface ErrorBody {
  error: { code: string; message: string };
}

async function errorOf(r: Response): Promise<ErrorBody['error']> {
  return ((await r.json()) as ErrorBody).error;
}

/** eventually retries `probe` every 50 ms until it returns true, for at most `ms`. */
async function eventually(what: string, probe: () => Promise<boolean>, ms = 15000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function pull(after: number | string, replica: string): Promise<Response> {
  return fetch(
    `http://${L}/_repl/pull?shard=0&after=${after}&wait_ms=0&replica=${encodeURIComponent(replica)}`,
  );
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'distkv-repl-honesty-'));
  const [pl, pr] = await freePorts(2);
  L = `127.0.0.1:${pl}`;
  R = `127.0.0.1:${pr}`;
  config = writeConfig(dir, [{ address: L, replicas: [R] }], '[replication]\npull_wait_ms = 200\n');
});

after(async () => {
  await Promise.all([...running.values()].map((p) => p.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('honest replication acks and lag', () => {
  it('refuses w and timeout_ms out of range with 400 naming the parameter and bound, on PUT and DELETE', async () => {
    await start(L);
    for (const method of ['DELETE', 'PUT']) {
      for (const [query, name, bound] of [
        ['w=abc', 'w', '0..1'],
        ['w=-1', 'w', '0..1'],
        ['w=2', 'w', '0..1'],
        ['w=1&timeout_ms=abc', 'timeout_ms', '1..600000'],
        ['w=1&timeout_ms=-5', 'timeout_ms', '1..600000'],
      ] as const) {
        const r = await fetch(`http://${L}/kv/param?${query}`, {
          method,
          ...(method === 'PUT' ? { body: 'v' } : {}),
        });
        assert.equal(r.status, 400, `${method} ?${query}`);
        const e = await errorOf(r);
        assert.equal(e.code, 'INVALID_ARGUMENT');
        assert.ok(e.message.startsWith(`${name} `) && e.message.includes(bound), e.message);
      }
    }
  });

  it('refuses pulls from ids that are not replicas of the shard, so they never reach /stats', async () => {
    for (let i = 0; i < 50; i++) {
      const r = await pull(999999999, `anon-${i}`);
      assert.equal(r.status, 403);
      assert.equal((await errorOf(r)).code, 'UNKNOWN_REPLICA');
    }
    const missing = await fetch(`http://${L}/_repl/pull?shard=0&after=0&wait_ms=0`);
    assert.equal(missing.status, 403, 'a pull without a replica id is refused too');
    await missing.arrayBuffer();
    // A pull or a snapshot that names no shard of the map is the caller's mistake, said as such
    // (it was 403 UNKNOWN_REPLICA, "shard -1's replicas (none configured)", for the real replica).
    for (const path of [
      `/_repl/pull?after=0&wait_ms=0&replica=${R}`,
      `/_repl/pull?shard=7&after=0&wait_ms=0&replica=${R}`,
      '/_repl/snapshot',
      '/_repl/snapshot?shard=7',
    ]) {
      const r = await fetch(`http://${L}${path}`);
      assert.equal(r.status, 400, path);
      const e = await errorOf(r);
      assert.equal(e.code, 'INVALID_ARGUMENT', path);
      assert.match(e.message, /^shard .*0\.\.0/, path);
    }
    // A pull or a snapshot from a node with another config is refused before anything else: the
    // snapshot of a shard that covers other slots there would fill the replica with keys its reads
    // are not routed to (it was streamed).
    const hash = ((await (await fetch(`http://${L}/cluster`)).json()) as { version: string }).version;
    const other = (hash.startsWith('0') ? '1' : '0') + hash.slice(1);
    for (const path of [
      `/_repl/pull?shard=0&after=0&wait_ms=0&replica=${R}&config=${other}`,
      `/_repl/snapshot?shard=0&replica=${R}&config=${other}`,
    ]) {
      const r = await fetch(`http://${L}${path}`);
      assert.equal(r.status, 409, path);
      assert.equal((await errorOf(r)).code, 'CONFIG_MISMATCH', path);
    }
    const same = await fetch(`http://${L}/_repl/snapshot?shard=0&replica=${R}&config=${hash}`);
    assert.equal(same.status, 200, 'a snapshot with the same config is served');
    await same.arrayBuffer();
    const stats = (await (await fetch(`http://${L}/stats`)).json()) as {
      stores: { replicas?: { replica: string }[] }[];
    };
    assert.deepEqual(
      stats.stores.flatMap((s) => s.replicas ?? []).map((r) => r.replica),
      [],
      'no foreign id was recorded',
    );
    const w = await fetch(`http://${L}/kv/after-forgers?w=1&timeout_ms=300`, { method: 'PUT', body: 'v' });
    assert.equal(w.status, 504, 'w=1 counts only the real (stopped) replica');
    assert.match((await errorOf(w)).message, /^0 of 1 replicas/);
  });

  it('DELETE w=1 times out with 504 while the replica is stopped, and the delete is kept', async () => {
    assert.equal((await fetch(`http://${L}/kv/gone-soon`, { method: 'PUT', body: 'v' })).status, 204);
    const del = await fetch(`http://${L}/kv/gone-soon?w=1&timeout_ms=300`, { method: 'DELETE' });
    assert.equal(del.status, 504, 'DELETE honours w=1 as PUT does');
    const e = await errorOf(del);
    assert.equal(e.code, 'REPLICATION_TIMEOUT');
    assert.match(e.message, /^0 of 1 replicas/);
    assert.equal((await fetch(`http://${L}/kv/gone-soon`)).status, 404, 'the delete is kept on the leader');
  });

  it("refuses an ack beyond the leader's last seq (409 DIVERGED, then REPLICA_AHEAD): w=1 still times out", async () => {
    // A replica's first position above what the leader held at its start names records the
    // leader does not hold: it is told the fork, so it saves them (src/replication/pull-answer.ts).
    const first = await pull(999999999, R);
    assert.equal(first.status, 409);
    assert.equal((await errorOf(first)).code, 'DIVERGED');
    // Heard from since (at 0), it is refused as ahead.
    const heard = await pull(0, R);
    assert.ok(heard.status === 200 || heard.status === 204, `pull at 0: ${heard.status}`);
    await heard.arrayBuffer();
    const forged = await pull(999999999, R);
    assert.equal(forged.status, 409);
    assert.equal((await errorOf(forged)).code, 'REPLICA_AHEAD');
    const put = await fetch(`http://${L}/kv/forged?w=1&timeout_ms=300`, { method: 'PUT', body: 'v' });
    assert.equal(put.status, 504, 'the forged ack did not count');
    assert.equal((await errorOf(put)).code, 'REPLICATION_TIMEOUT');
  });

  it('serves max_lag_ms reads from a caught-up replica, and DELETE w=1 waits for it', async () => {
    await start(R);
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`http://${L}/kv/k${i}?w=1&timeout_ms=10000`, { method: 'PUT', body: `v${i}` });
      assert.equal(r.status, 204);
    }
    const del = await fetch(`http://${L}/kv/k0?w=1&timeout_ms=10000`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.equal(
      (await fetch(`http://${R}/kv/k0`)).status,
      404,
      'the replica holds the delete once acknowledged',
    );
    await eventually('a fresh read at the replica', async () => {
      const r = await fetch(`http://${R}/kv/k1?max_lag_ms=5000`);
      const text = await r.text();
      return r.status === 200 && text === 'v1' && r.headers.get('x-distkv-lag') === '0';
    });
    const seed = await fetch(`http://${R}/get?key=k2&max_lag_ms=5000`);
    assert.equal(await seed.text(), 'Value: v2');
  });

  it('a replica cut off from its leader reports its lag as unknown (header, /cluster, /stats), never 0', async () => {
    await stop(L);
    await eventually('X-Distkv-Lag says disconnected', async () => {
      const r = await fetch(`http://${R}/kv/k3`);
      await r.arrayBuffer();
      return /^disconnected; last-contact-ms=\d+$/.test(r.headers.get('x-distkv-lag') ?? '');
    });
    const stale = await fetch(`http://${R}/kv/k3`);
    assert.equal(await stale.text(), 'v3', 'it keeps serving plain reads');
    const cluster = (await (await fetch(`http://${R}/cluster`)).json()) as {
      shards: { replicas: Record<string, unknown>[] }[];
    };
    const view = cluster.shards[0]!.replicas[0]!;
    assert.equal(view.state, 'disconnected');
    assert.equal(typeof view.last_contact_ms_ago, 'number');
    assert.equal(view.lag_seqs, undefined, 'no lag figure while it is unknown');
    assert.equal(view.lag_ms, undefined);
    const stats = (await (await fetch(`http://${R}/stats`)).json()) as {
      stores: { lagSeqs?: unknown }[];
    };
    assert.equal(stats.stores[0]?.lagSeqs, 'unknown');
  });

  it('a replica cut off from its leader answers max_lag_ms reads with 503 REPLICA_STALE', async () => {
    await eventually('a max_lag_ms read is refused', async () => {
      const r = await fetch(`http://${R}/kv/k3?max_lag_ms=600000`);
      await r.arrayBuffer();
      return r.status === 503;
    });
    const fresh = await fetch(`http://${R}/kv/k3?max_lag_ms=600000`);
    assert.equal(fresh.status, 503);
    const e = await errorOf(fresh);
    assert.equal(e.code, 'REPLICA_STALE');
    assert.match(e.message, /disconnected; its leader last answered \d+ ms ago/);
    const seed = await fetch(`http://${R}/get?key=k3&max_lag_ms=600000`);
    assert.equal(seed.status, 503);
    assert.match(await seed.text(), /max_lag_ms/);
  });

  it('a leader restarted on a lost data directory is held behind its replica, which keeps its records', async () => {
    // Before, the leader served an empty shard and the replica saved its records to a divergence
    // file and resynced empty (src/server/behind-leaders.ts; test/e2e/behind-leader.test.ts).
    rmSync(join(dir, L.replace(':', '_')), { recursive: true, force: true });
    await start(L);
    const put = await fetch(`http://${L}/kv/new0`, { method: 'PUT', body: 'n0' });
    assert.equal(put.status, 503);
    const e = await errorOf(put);
    assert.equal(e.code, 'LEADER_BEHIND');
    assert.match(e.message, new RegExp(`its replica ${R} holds records through seq \\d+`));
    const kept = await fetch(`http://${R}/kv/k3`);
    assert.equal(await kept.text(), 'v3', 'the replica kept its records');
    const stats = (await (await fetch(`http://${R}/stats`)).json()) as {
      stores: { divergedRecords?: number }[];
    };
    assert.equal(stats.stores[0]?.divergedRecords ?? 0, 0, 'nothing was cut off');
  });

  it('a replica ahead of a leader that took writes before it was heard resyncs to the leader history', async () => {
    // The leader restarts with the replica down and takes writes: its history is another one,
    // and the replica, back, saves its records above the leader's start and resyncs.
    await stop(R);
    await stop(L);
    await start(L);
    for (let i = 0; i < 5; i++)
      assert.equal((await fetch(`http://${L}/kv/new${i}`, { method: 'PUT', body: `n${i}` })).status, 204);
    await start(R);
    await eventually(
      'the replica holds the new history only',
      async () => {
        const r = await fetch(`http://${R}/kv?limit=1000`);
        if (r.status !== 200) return false;
        const page = (await r.json()) as { items: { key: string; value: string }[] };
        return (
          JSON.stringify(page.items.map((i) => i.key)) ===
          JSON.stringify(['new0', 'new1', 'new2', 'new3', 'new4'])
        );
      },
      30000,
    );
    const stats = (await (await fetch(`http://${R}/stats`)).json()) as {
      stores: { resyncs?: number; divergedRecords?: number }[];
    };
    assert.ok((stats.stores[0]?.resyncs ?? 0) >= 1, 'it resynced from a snapshot');
    // Its records the leader lost are the only copy of acknowledged writes: saved, not wiped.
    assert.ok(
      (stats.stores[0]?.divergedRecords ?? 0) > 0,
      `the replica's records above the leader's start were not saved: ${JSON.stringify(stats.stores[0])}`,
    );
  });
});

describe('internal endpoints with a token', () => {
  it('every /_repl endpoint and the seed replication endpoints require the bearer token', async () => {
    const [port] = await freePorts(1);
    const node = `127.0.0.1:${port}`;
    mkdirSync(join(dir, 'token'));
    const tokenConfig = writeConfig(join(dir, 'token'), [{ address: node }], '[server]\ntoken = "s3cret"\n');
    const p = await ServerProcess.start(
      ['--config', tokenConfig, '--data-dir', join(dir, 'token', 'data'), '--workers', '1'],
      `http://${node}/healthz`,
      { DISTKV_LOG_LEVEL: 'warn' },
    );
    running.set(node, p);
    for (const path of [
      '/_repl/pull?shard=0&after=0&wait_ms=0&replica=x',
      '/_repl/snapshot?shard=0',
      '/next-replication-key',
      '/delete-replication-key?key=a&value=b',
    ]) {
      const r = await fetch(`http://${node}${path}`);
      await r.arrayBuffer();
      assert.equal(r.status, 401, path);
    }
    const ok = await fetch(`http://${node}/_repl/snapshot?shard=0`, {
      headers: { authorization: 'Bearer s3cret' },
    });
    await ok.arrayBuffer();
    assert.equal(ok.status, 200);
  });
});
