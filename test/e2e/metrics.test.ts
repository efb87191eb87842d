/**
 * What operators read: /metrics parsed with a strict Prometheus text-format parser after real
 * traffic (naming conventions, histograms, labels, replication lag, standard process metrics),
 * /stats' sequence numbers under fsync, and the startup log (order of "listening" and "serving";
 * human-readable lines on a terminal, JSON otherwise).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { type PromFamily, parseExposition } from '../helpers/prom-parse.js';
import { BIN, REPO_ROOT, ServerProcess, startOwnServer, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

/** bucketsOf groups a histogram's _bucket samples by their labels other than `le`. */
function bucketsOf(f: PromFamily): Map<string, { le: number; value: number }[]> {
  const out = new Map<string, { le: number; value: number }[]>();
  for (const s of f.samples) {
    if (s.name !== `${f.name}_bucket`) continue;
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(rest);
    const list = out.get(key) ?? [];
    list.push({ le: le === '+Inf' ? Infinity : Number(le), value: s.value });
    out.set(key, list);
  }
  return out;
}

function sampleOf(
  f: PromFamily | undefined,
  name: string,
  labels: Record<string, string>,
): number | undefined {
  return f?.samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}

describe('/metrics after traffic', () => {
  let server: ServerProcess;
  let leader: string;
  let replica: string;
  let families: Map<string, PromFamily>;
  let stop = (): Promise<void> => Promise.resolve();

  before(async () => {
    const [p1, p2] = await freePorts(2);
    leader = `127.0.0.1:${p1}`;
    replica = `127.0.0.1:${p2}`;
    ({ server, stop } = await startOwnServer(
      [
        { address: leader, replicas: [replica] },
        { address: leader, replicas: [replica] },
      ],
      '[server]\nmax_value_bytes = 1024\n',
    ));
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`http://${leader}/kv/key-${i}`, { method: 'PUT', body: `value-${i}` });
      assert.equal(r.status, 204);
    }
    assert.equal((await fetch(`http://${leader}/kv/key-1`)).status, 200);
    assert.equal((await fetch(`http://${leader}/kv/missing`)).status, 404);
    assert.equal(
      (await fetch(`http://${leader}/kv/big`, { method: 'PUT', body: 'x'.repeat(2000) })).status,
      413,
    );
    assert.equal((await fetch(`http://${leader}/kv/k`, { method: 'PATCH' })).status, 405);
    assert.equal((await fetch(`http://${leader}/nowhere`)).status, 404);
    // Wait (bounded) until both replicas report themselves caught up. Only then read from the
    // replica: the writes were not waited for (w=0), and a replica slow to start following on a
    // loaded machine did not hold key-2 yet when it was read right after them.
    const deadline = Date.now() + 10000;
    for (;;) {
      families = parseExposition(await (await fetch(`http://${leader}/metrics`)).text());
      const lag = families.get('distkv_replication_lag_seqs');
      const caughtUp =
        lag !== undefined && lag.samples.length === 2 && lag.samples.every((s) => s.value === 0);
      if (caughtUp || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await fetch(`http://${replica}/get?key=key-2`)).status, 200);
    // Scraped after every request above, so each is counted in what the checks below read.
    families = parseExposition(await (await fetch(`http://${leader}/metrics`)).text());
  });

  after(() => stop());

  it('gives every family a HELP and a TYPE', () => {
    for (const f of families.values()) {
      assert.ok(f.help !== undefined && f.help !== '', `${f.name} has no HELP`);
      assert.ok(f.type !== undefined, `${f.name} has no TYPE`);
    }
  });

  it('names every counter with _total and no metric in milliseconds', () => {
    for (const f of families.values()) {
      if (f.type === 'counter') assert.match(f.name, /_total$/, `counter ${f.name} does not end in _total`);
      // (prom-client's own gauge nodejs_active_resources_total is the one standard exception.)
      else if (f.name.startsWith('distkv_'))
        assert.doesNotMatch(f.name, /_total$/, `${f.type ?? '?'} ${f.name} ends in _total`);
      assert.doesNotMatch(f.name, /_(ms|msec|milliseconds)(_|$)/, `${f.name} is not in base units`);
    }
    for (const name of [
      'distkv_store_wal_syncs_total',
      'distkv_store_flushes_total',
      'distkv_store_compactions_total',
      'distkv_store_bloom_checks_total',
      'distkv_store_write_stalls_total',
      'distkv_store_wal_failures_total',
    ])
      assert.equal(families.get(name)?.type, 'counter', `${name} is a counter`);
    const syncs = sampleOf(families.get('distkv_store_wal_syncs_total'), 'distkv_store_wal_syncs_total', {
      role: 'leader',
    });
    assert.ok(syncs !== undefined && syncs > 0, 'the leader counted its fsyncs');
  });

  it('exposes latencies as histograms whose buckets are cumulative and end at +Inf = _count', () => {
    const histograms = [...families.values()].filter((f) => f.type === 'histogram');
    const names = histograms.map((f) => f.name);
    for (const name of [
      'distkv_http_request_duration_seconds',
      'distkv_store_wal_sync_duration_seconds',
      'distkv_store_compaction_duration_seconds',
      'distkv_store_flush_duration_seconds',
    ])
      assert.ok(names.includes(name), `${name} is a histogram`);
    for (const f of histograms) {
      for (const [labels, buckets] of bucketsOf(f)) {
        const where = `${f.name}${labels}`;
        assert.equal(buckets.at(-1)?.le, Infinity, `${where} ends with le="+Inf"`);
        for (let i = 1; i < buckets.length; i++) {
          assert.ok(buckets[i]!.le > buckets[i - 1]!.le, `${where}: le ascending`);
          assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, `${where}: buckets cumulative`);
        }
        const parsed = JSON.parse(labels) as Record<string, string>;
        assert.equal(
          sampleOf(f, `${f.name}_count`, parsed),
          buckets.at(-1)!.value,
          `${where}: +Inf = _count`,
        );
        assert.ok(sampleOf(f, `${f.name}_sum`, parsed) !== undefined, `${where} has _sum`);
      }
    }
    const fsync = families.get('distkv_store_wal_sync_duration_seconds')!;
    assert.ok(
      (sampleOf(fsync, 'distkv_store_wal_sync_duration_seconds_count', { role: 'leader' }) ?? 0) > 0,
      'fsyncs were timed',
    );
  });

  it('labels HTTP metrics with the node that was addressed and errors with their code', () => {
    const requests = families.get('distkv_http_requests_total')!;
    assert.ok(requests.samples.every((s) => s.labels.node !== undefined && s.labels.method !== undefined));
    assert.equal(
      sampleOf(requests, requests.name, { node: leader, route: 'kv_put', method: 'PUT', status: '204' }),
      20,
    );
    assert.equal(sampleOf(requests, requests.name, { node: replica, route: 'seed_get', status: '200' }), 1);
    for (const s of requests.samples) {
      if (Number(s.labels.status) >= 400)
        assert.ok(s.labels.code, `error sample without code: ${JSON.stringify(s)}`);
      else assert.equal(s.labels.code, undefined);
    }
    const codeOf = (status: string, route: string): string | undefined =>
      requests.samples.find((s) => s.labels.status === status && s.labels.route === route)?.labels.code;
    assert.equal(codeOf('413', 'kv_put'), 'VALUE_TOO_LARGE');
    assert.equal(codeOf('404', 'kv_get'), 'NOT_FOUND');
    assert.equal(codeOf('405', 'other'), 'METHOD_NOT_ALLOWED');
    assert.equal(codeOf('404', 'other'), 'ROUTE_NOT_FOUND');
    const latency = families.get('distkv_http_request_duration_seconds')!;
    const nodes = new Set(latency.samples.map((s) => s.labels.node));
    assert.deepEqual([...nodes].sort(), [leader, replica].sort(), 'one latency series per node');
  });

  it('reports replication lag in seqs and seconds per replica', () => {
    for (const name of [
      'distkv_replication_lag_seqs',
      'distkv_replication_lag_seconds',
      'distkv_replication_connected',
    ]) {
      const f = families.get(name);
      assert.equal(f?.type, 'gauge', `${name} is a gauge`);
      for (const shard of ['shard-0', 'shard-1'])
        assert.ok(sampleOf(f, name, { shard, replica }) !== undefined, `${name}{shard="${shard}"}`);
    }
    const lag = families.get('distkv_replication_lag_seqs')!;
    assert.ok(
      lag.samples.every((s) => s.value === 0),
      'replicas caught up after the writes',
    );
  });

  it('exports the default process and nodejs metrics under their standard names', () => {
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
    ])
      assert.ok(families.has(name), `${name} is exported`);
    for (const name of families.keys()) assert.doesNotMatch(name, /^distkv_process_/);
  });

  it('shows under fsync that every acknowledged write is synced, in /stats', async () => {
    const stats = (await (await fetch(`http://${leader}/stats`)).json()) as {
      stores: Record<string, unknown>[];
    };
    const leaders = stats.stores.filter((s) => s.role === 'leader');
    assert.equal(
      leaders.reduce((n, s) => n + Number(s.lastSeq), 0),
      20,
    );
    for (const s of stats.stores) {
      assert.equal(s.durableSeq, undefined, 'no durableSeq field (it meant "flushed", not "durable")');
      assert.equal(s.syncedSeq, s.lastSeq, `${String(s.name)} ${String(s.role)}: syncedSeq = lastSeq`);
      assert.equal(typeof s.flushedSeq, 'number');
    }
  });

  it('logs "listening" as not yet serving, and "serving" only after every store is open', () => {
    const lines = server.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { msg: string }).msg);
    const listening = lines.filter((m) => m.startsWith('listening on'));
    assert.equal(listening.length, 2);
    for (const m of listening) assert.match(m, /stores opening/);
    const serving = lines.findIndex((m) => m.startsWith('serving on'));
    const lastStore = lines.findLastIndex((m) => m.startsWith('store '));
    assert.ok(serving > lastStore && lastStore > 0, 'serving is logged after the stores opened');
    assert.ok(lines[serving]!.includes(`http://${leader}`) && lines[serving]!.includes(`http://${replica}`));
  });
});

describe('/metrics for a replica whose leader is down', () => {
  it('reports it not connected and gives no lag sample rather than a lag of 0', async () => {
    const dir = tempDir(after);
    const [p1, p2] = await freePorts(2);
    const config = writeConfig(dir, [{ address: `127.0.0.1:${p1!}`, replicas: [`127.0.0.1:${p2!}`] }]);
    // Only the replica's node runs: its leader never answers.
    const s = await ServerProcess.start(
      ['--config', config, '--data-dir', join(dir, 'data'), '--node', `127.0.0.1:${p2!}`],
      `http://127.0.0.1:${p2!}/healthz`,
    );
    try {
      let families = new Map<string, PromFamily>();
      const deadline = Date.now() + 10000;
      while (Date.now() < deadline) {
        families = parseExposition(await (await fetch(`http://127.0.0.1:${p2!}/metrics`)).text());
        if (families.get('distkv_replication_connected')?.samples[0]?.value === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const connected = families.get('distkv_replication_connected')!.samples;
      assert.deepEqual(
        connected.map((x) => [x.labels, x.value]),
        [[{ shard: 'shard-0', replica: `127.0.0.1:${p2!}` }, 0]],
      );
      assert.equal(families.get('distkv_replication_lag_seqs')?.samples.length, 0);
      assert.equal(families.get('distkv_replication_lag_seconds')?.samples.length, 0);
    } finally {
      await s.stop();
    }
  });
});

describe('logs on a terminal', () => {
  const hasScript = spawnSync('script', ['--version']).status === 0;

  it(
    'are human-readable lines (time, level, message), not JSON',
    { skip: !hasScript && 'needs script(1) for a pty' },
    async () => {
      const dir = tempDir(after);
      const [port] = await freePorts(1);
      const config = writeConfig(dir, [{ address: `127.0.0.1:${port!}` }]);
      const command = [process.execPath, BIN, 'serve', '--config', config, '--data-dir', join(dir, 'data')]
        .map((a) => `'${a}'`)
        .join(' ');
      // script(1) runs the server on a pseudo-terminal; its output is what a terminal would show.
      const child = spawn('script', ['-qfec', command, '/dev/null'], {
        cwd: REPO_ROOT,
        env: { ...process.env, DISTKV_LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      const exited = new Promise<void>((resolve) => {
        child.on('exit', () => {
          resolve();
        });
      });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 20000);
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          if (/serving on/.test(out)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      child.kill('SIGTERM');
      await exited;
      // eslint-disable-next-line no-control-regex -- strip the terminal's colour codes
      const text = out.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');
      assert.match(text, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: listening on http:\/\/127\.0\.0\.1:\d+ /m);
      assert.match(text, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: serving on /m);
      assert.doesNotMatch(text, /"level":/, 'no JSON lines on a terminal');
    },
  );
});
