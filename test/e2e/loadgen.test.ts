/**
 * `distkv bench` end to end against a spawned distkv: counts add up (requests = ok + errors = sum
 * of statuses), failures are reported by status and make the exit code 1, the HTML report is
 * written, and Ctrl-C ends a run with the report of what was measured (exit 130).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { LoadResult } from '../../src/loadgen/loadgen.js';
import { freePorts } from '../helpers/ports.js';
import { BIN, type CliResult, runCli, ServerProcess, writeConfig } from '../helpers/server-process.js';

let dir = '';
let node = '';
let server: ServerProcess;

const bench = (args: string[]): Promise<CliResult> => runCli(['bench', ...args]);
/** benchInterrupted runs `distkv bench`, sends SIGINT once `stderr` matches `when`, and resolves with its outcome. */
function benchInterrupted(args: string[], when: RegExp): Promise<CliResult & { afterSignalMs: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'bench', ...args], {
      env: { ...process.env, DISTKV_URL: '' },
    });
    let stdout = '';
    let stderr = '';
    let signaledAt = 0;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (signaledAt === 0 && when.test(stderr)) {
        signaledAt = performance.now();
        child.kill('SIGINT');
      }
    });
    // Bounded: a bench that ignored the signal is killed after its 60 s run would have been.
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr, afterSignalMs: performance.now() - signaledAt });
    });
  });
}

/** flags turns {name: value} into command-line options (`true`: the option alone). */
const flags = (o: Record<string, string | number | true>): string[] =>
  Object.entries(o).flatMap(([k, v]) => (v === true ? [`--${k}`] : [`--${k}`, String(v)]));
const sum = (o: Record<string, number>): number => Object.values(o).reduce((a, b) => a + b, 0);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'distkv-loadgen-'));
  const [port] = await freePorts(1);
  node = `127.0.0.1:${port}`;
  const config = writeConfig(dir, [{ address: node }, { address: node }], '[server]\nmax_value_bytes = 64\n');
  server = await ServerProcess.start(
    ['--config', config, '--data-dir', join(dir, 'data'), '--workers', '1', '--durability', 'none'],
    `http://${node}/healthz`,
    { DISTKV_LOG_LEVEL: 'warn' },
  );
});

after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('distkv bench', () => {
  it('runs a request count with preload and reports counts that add up', async () => {
    const report = join(dir, 'run.html');
    const r = await bench([
      '--url',
      `http://${node}`,
      '--requests',
      '3000',
      '--keys',
      '500',
      '--value-size',
      '32',
      '--mix',
      'get:80,set:15,del:5',
      '--dist',
      'zipf:0.99',
      '--concurrency',
      '8',
      '--threads',
      '2',
      '--warmup',
      '0',
      '--json',
      '--report',
      report,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as LoadResult;
    assert.equal(res.requests, 3000);
    assert.equal(res.ok + res.errors, res.requests);
    assert.equal(res.errors, 0);
    assert.equal(sum(res.by_status), res.requests);
    assert.ok(
      (res.by_status['200'] ?? 0) > 0 && (res.by_status['204'] ?? 0) > 0,
      JSON.stringify(res.by_status),
    );
    assert.equal(res.latency.count, 3000);
    assert.ok(res.latency.p50_us > 0 && res.latency.p50_us <= res.latency.p99_us);
    assert.equal(res.preload?.keys, 500);
    const html = readFileSync(report, 'utf8');
    assert.match(html, /<svg/);
    assert.match(html, /Latency by percentile/);
  });

  it('measures a request count over the time it took, also when --duration caps it', async () => {
    // The duration is only a cap here: 600 requests take well under 30 s, and the throughput is
    // theirs over the time they took (it was 600 / 30 s, whatever the server did).
    const r = await bench([
      '--url',
      `http://${node}`,
      ...flags({ requests: 600, duration: 30, keys: 100, 'value-size': 32, concurrency: 4, threads: 1 }),
      ...flags({ warmup: 0, 'no-preload': true, json: true }),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as LoadResult;
    assert.equal(res.requests, 600);
    assert.ok(res.duration_s > 0 && res.duration_s < 20, `duration_s ${res.duration_s}`);
    assert.ok(Math.abs(res.throughput - 600 / res.duration_s) < 1, JSON.stringify(res));
  });

  it('reports failed operations by status and exits 1 instead of hiding them', async () => {
    // Values of 100 bytes are over this server's max_value_bytes (64): every set is a 413.
    const r = await bench([
      '--url',
      `http://${node}`,
      '--requests',
      '1000',
      '--keys',
      '100',
      '--value-size',
      '100',
      '--mix',
      'get:50,set:50',
      '--no-preload',
      '--concurrency',
      '4',
      '--threads',
      '1',
      '--warmup',
      '0',
    ]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /requests\s+1000 in .*: \d+ ok, \d+ errors/);
    const errors = Number(/(\d+) errors/.exec(r.stdout)![1]);
    const status = (name: string): number => Number(new RegExp(`${name}: (\\d+)`).exec(r.stdout)?.[1] ?? 0);
    // The server closes the connection after a 413, so the request behind it fails as "connection".
    assert.ok(status('413') > 200, r.stdout);
    assert.equal(errors, status('413') + status('connection'), r.stdout);
    assert.match(r.stdout, /ERRORS\s+\d+ operations failed/);
    // The throughput is of served operations: failed ones are not work the server did.
    const [, secondsText, okText] = /requests\s+1000 in ([\d.]+) s: (\d+) ok/.exec(r.stdout)!;
    const seconds = Number(secondsText);
    const ok = Number(okText);
    const throughput = Number(/throughput\s+(\d+) ops\/s/.exec(r.stdout)![1]);
    // The duration is printed to 0.1 s and the throughput to 1 ops/s: their product is off by up
    // to 0.05 s of throughput and half an op/s over the seconds. The bound was throughput * 0.05 + 1,
    // which a run of over 2 s (a loaded machine) could miss with a right throughput: 335 ok in
    // 5.0 s, 66 ops/s. Counting the errors (about 650, at least 200) misses it by far.
    assert.ok(
      Math.abs(throughput * seconds - ok) <= throughput * 0.05 + seconds * 0.5 + 1,
      `throughput ${throughput} counts errors: ${r.stdout}`,
    );
  });

  it('counts connection failures when nothing listens', async () => {
    const [port] = await freePorts(1);
    const r = await bench([
      '--url',
      `http://127.0.0.1:${port}`,
      '--requests',
      '200',
      '--no-preload',
      '--concurrency',
      '2',
      '--threads',
      '1',
      '--warmup',
      '0',
      '--json',
    ]);
    assert.equal(r.code, 1);
    const res = JSON.parse(r.stdout) as LoadResult;
    assert.equal(res.errors, 200);
    assert.equal(res.by_status.connection, 200);
  });

  // Both at once: each waits for its first progress line, which a bench writes to a log (stderr
  // not a terminal) after LOG_MS (5 s), before its Ctrl-C; one after the other that was twice
  // the wait. Each bench is its own process with its own signal and exit code.
  describe('at Ctrl-C', { concurrency: 2 }, () => {
    it('stops at Ctrl-C in the run and prints the report of what it measured, exit 130', async () => {
      const r = await benchInterrupted(
        [
          '--url',
          `http://${node}`,
          '--duration',
          '60',
          '--warmup',
          '0',
          '--no-preload',
          '--concurrency',
          '4',
          '--json',
        ],
        /run .*[1-9]\d* done/,
      );
      assert.equal(r.code, 130, r.stderr);
      assert.ok(r.afterSignalMs < 10_000, `took ${r.afterSignalMs} ms after the signal`);
      const res = JSON.parse(r.stdout) as LoadResult;
      assert.equal(res.interrupted, 'run');
      assert.ok(res.requests > 0 && res.requests === res.ok + res.errors, r.stdout);
      assert.ok(res.duration_s > 0 && res.duration_s < 30, `duration_s ${res.duration_s}`);
      assert.match(r.stderr, /interrupted/);
    });

    it('says that Ctrl-C in the preload left nothing measured, exit 130', async () => {
      const r = await benchInterrupted(
        ['--url', `http://${node}`, '--keys', '10000000', '--duration', '5', '--concurrency', '2'],
        /preload .*[1-9]\d* done/,
      );
      assert.equal(r.code, 130, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /interrupted in the preload \(\d+ of 10000000 keys set\): nothing measured/);
    });
  });

  it('rejects bad options with a usage error (exit 2)', async () => {
    const r = await bench(['--url', `http://${node}`, '--dist', 'pareto']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--dist must be uniform or zipf/);
    assert.equal(existsSync(join(dir, 'none.html')), false);
    const both = await bench(['--url', `http://${node}`, '--config', 'x.toml']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /exactly one of --url/);
  });
});
