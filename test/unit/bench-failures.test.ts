/**
 * How a benchmark run that fails ends (bench/lib/run-scope.ts, bench/lib/run-again.ts). Seen in a
 * short `bench:failover` run under load: `distkv failover --force` refused once with "nothing was
 * changed, run it again" (a paused leader's last records reached the replica it had not chosen),
 * and the whole run ended there with node's stack trace of the uncaught error; a wait that gave up
 * (`timed out waiting for ...`) ended the same way.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { nothingChanged, runAgain } from '../../bench/lib/run-again.js';
import { DistkvError } from '../../src/errors.js';
import { alive } from '../helpers/proc-alive.js';
import { tempDir } from '../helpers/temp-dir.js';

const RUN_SCOPE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'lib', 'run-scope.js');

// The refusal checkStillForced gives (src/cli/failover-checks.ts), as bench:failover met it.
const REACHED = new DistkvError(
  'INVALID_ARGUMENT',
  '127.0.0.2:25217 holds seq 5421 but 127.0.0.1:13223 holds seq 5420 once held (records reached 127.0.0.2:25217 during the failover): promoting 127.0.0.1:13223 would lose the writes between; nothing was changed, run it again (omit --to, or give --to 127.0.0.2:25217)',
);

test('nothingChanged accepts the refusals a failover says to run again, and no other error', () => {
  assert.equal(nothingChanged(REACHED), true);
  assert.equal(
    nothingChanged(
      new DistkvError(
        'MAP_CHANGED',
        'the live map changed during the failover: ...; nothing was changed, run it again if still needed',
      ),
    ),
    true,
  );
  const back =
    'the leader 127.0.0.1:1 of shard-0 answers again (it came back during the failover): nothing was changed; run a planned failover (without --force)';
  assert.equal(nothingChanged(new DistkvError('INVALID_ARGUMENT', back)), false);
  assert.equal(nothingChanged(new DistkvError('SHARD_UNREACHABLE', 'no replica of shard-0 answers')), false);
  assert.equal(nothingChanged(new Error('nothing was changed')), false);
});

test('runAgain runs a refused failover again and counts the refusals; it gives up after its bound', async () => {
  let calls = 0;
  const told: number[] = [];
  const refusedTwice = async (): Promise<void> => {
    await Promise.resolve();
    if (++calls <= 2) throw REACHED;
  };
  assert.equal(await runAgain(refusedTwice, 5, (_e, n) => told.push(n), 0), 2);
  assert.deepEqual(told, [1, 2]);
  calls = 0;
  await assert.rejects(
    runAgain(
      async () => {
        calls++;
        await Promise.resolve();
        throw REACHED;
      },
      3,
      () => undefined,
      0,
    ),
    (err) => err === REACHED,
  );
  assert.equal(calls, 3, 'runs at most its bound');
  calls = 0;
  const other = new Error('connect ECONNREFUSED');
  await assert.rejects(
    runAgain(
      async () => {
        calls++;
        await Promise.resolve();
        throw other;
      },
      3,
      () => undefined,
      0,
    ),
    (err) => err === other,
  );
  assert.equal(calls, 1, 'any other error is thrown at once');
});

/** failingRun runs a script that joins a run scope, starts a child, then throws `error` (JS source). */
function failingRun(error: string): { status: number | null; stderr: string; child: number; runDir: string } {
  const dir = tempDir(after, 'distkv-bench-fail-');
  const script = join(dir, 'failing-bench.mjs');
  writeFileSync(
    script,
    [
      `import { RUN_DIR } from ${JSON.stringify(pathToFileURL(RUN_SCOPE).href)};`,
      "import { spawn } from 'node:child_process';",
      "import { writeFileSync } from 'node:fs';",
      "import { strict as assert } from 'node:assert';",
      "const child = spawn('sleep', ['60'], { stdio: 'ignore' });",
      `writeFileSync(${JSON.stringify(join(dir, 'state'))}, JSON.stringify({ child: child.pid, runDir: RUN_DIR }));`,
      'await new Promise((r) => setTimeout(r, 50));',
      error,
    ].join('\n'),
  );
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: dir };
  delete env.DISTKV_BENCH_RUN_DIR;
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 20_000, env });
  const state = JSON.parse(readFileSync(join(dir, 'state'), 'utf8')) as { child: number; runDir: string };
  return { status: r.status, stderr: r.stderr, ...state };
}

test('a run whose wait gives up ends with one sentence naming the script, exit 1, its processes and files gone', () => {
  const r = failingRun("assert.fail('timed out waiting for a replica to be promoted');");
  try {
    assert.equal(r.status, 1, r.stderr);
    assert.equal(
      r.stderr,
      'failing-bench.mjs: the run failed: timed out waiting for a replica to be promoted\n',
    );
    assert.equal(alive(r.child), false, 'the child the run started is still running');
    assert.equal(existsSync(r.runDir), false, 'the run left its temp dir');
  } finally {
    if (alive(r.child)) process.kill(r.child, 'SIGKILL');
  }
});

test('a refused command (an error with a code) is a sentence too; a fault of the benchmark keeps its stack', () => {
  const refused = failingRun(
    "throw Object.assign(new Error('nothing was changed, run it again'), { code: 'INVALID_ARGUMENT' });",
  );
  assert.equal(refused.status, 1, refused.stderr);
  assert.equal(refused.stderr, 'failing-bench.mjs: the run failed: nothing was changed, run it again\n');
  const bug = failingRun('null.x;');
  assert.equal(bug.status, 1, bug.stderr);
  assert.match(bug.stderr, /^failing-bench\.mjs: the run failed: TypeError: Cannot read properties of null/);
  assert.match(bug.stderr, /\n {4}at /, 'the stack of a fault of the benchmark');
  for (const r of [refused, bug]) if (alive(r.child)) process.kill(r.child, 'SIGKILL');
});
