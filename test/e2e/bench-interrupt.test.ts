/**
 * Ctrl-C in the middle of a benchmark stops its servers and removes its temp files
 * (bench/lib/run-scope.ts): before, a SIGINT to the benchmark killed it alone, and the distkv server
 * it had started kept running (holding its port and its data dir under the temp dir) until someone
 * found it.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { alive } from '../helpers/proc-alive.js';
import { tempDir } from '../helpers/temp-dir.js';

const BENCH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');

/** childrenOf returns the pids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

test('SIGINT during bench:cas stops its distkv server, removes its temp dir and exits 130', async () => {
  const tmp = tempDir(after, 'distkv-bench-int-');
  const bench = spawn(process.execPath, [join(BENCH, 'cas-bench.js'), '--seconds', '30', '--rounds', '1'], {
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  bench.stdout.on('data', (d: Buffer) => (out += d.toString()));
  bench.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<[number | null, string | null]>((resolve) =>
    bench.once('exit', (code, signal) => {
      resolve([code, signal]);
    }),
  );
  let servers: number[] = [];
  try {
    // The header line is printed once the server answers: the run is under way.
    const deadline = Date.now() + 60_000;
    while (!/^node v/m.test(out)) {
      assert.ok(Date.now() < deadline && bench.exitCode === null, `the bench did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    servers = childrenOf(bench.pid!);
    assert.ok(servers.length >= 1, 'the bench runs its server in a child process');
    bench.kill('SIGINT');
    const timer = setTimeout(() => bench.kill('SIGKILL'), 20_000);
    const [code, signal] = await exited;
    clearTimeout(timer);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      servers.filter(alive),
      [],
      'the server the bench started is still running after its Ctrl-C',
    );
    assert.deepEqual(readdirSync(tmp), [], 'the bench left files in the temp dir');
    assert.deepEqual([code, signal], [130, null], `exit ${String(code)} ${String(signal)}\n${out}`);
    assert.match(out, /SIGINT: stopping the run/);
    assert.doesNotMatch(out, /\n\s+at /, `a stack trace was printed:\n${out}`);
  } finally {
    for (const p of [bench.pid!, ...servers]) if (alive(p)) process.kill(p, 'SIGKILL');
  }
});
