/**
 * The scope of one benchmark run: everything it starts stops with it, and everything it writes
 * under the temp dir goes with it, however it ends (done, thrown, Ctrl-C, SIGTERM).
 *
 * Temp files: at import, the run makes one private directory under the temp dir
 * (`distkv-bench-XXXXXX`) and points `TMPDIR` at it, so every later `mkdtemp(tmpdir())` of the
 * run (its own, the test helpers' it reuses, its child processes') lands inside it; the directory
 * is removed when the process exits.
 *
 * Processes: a benchmark starts servers (distkv, redis-server, etcd) and load tools as children.
 * On SIGINT or SIGTERM the run sends SIGTERM to every descendant (found through /proc, so the
 * children a helper spawned count too), waits up to 8 s for them, SIGKILLs the rest, removes its
 * directory and exits 130 (SIGINT) or 143 (SIGTERM). A second signal skips the wait. At any other
 * exit the descendants still alive are killed at once. A run blocked in a synchronous load tool
 * (wrk, redis-benchmark) handles the signal when that tool returns: a terminal's Ctrl-C reaches the
 * tool too, which then stops at once.
 *
 * A process a benchmark starts that is itself a benchmark script (a baseline server, a measuring
 * child) finds the run's directory in `DISTKV_BENCH_RUN_DIR` and takes part in that run instead:
 * no directory and no signal handlers of its own (it stops on SIGTERM as before; the top process
 * cleans up).
 *
 * A run that throws (a wait that gave up, a refused command) ends with exit code 1 and one sentence
 * naming the script, the same cleanup following (failRun below).
 *
 * Imported by bench/lib/args.ts, so every benchmark has it; importing it has these effects.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const RUN_ENV = 'DISTKV_BENCH_RUN_DIR';
const INNER = process.env[RUN_ENV] !== undefined;

/** RUN_DIR is this run's private temp directory (also the run's `TMPDIR`). */
export const RUN_DIR = process.env[RUN_ENV] ?? mkdtempSync(join(tmpdir(), 'distkv-bench-'));
process.env.TMPDIR = RUN_DIR;
process.env[RUN_ENV] = RUN_DIR;

/** descendantsOf returns the pids of every live process under `pid` (children first), read from /proc. */
export function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(e));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const c of children.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
}

function removeRunDir(): void {
  rmSync(RUN_DIR, { recursive: true, force: true, maxRetries: 3 });
}

if (!INNER)
  process.on('exit', () => {
    signalAll(descendantsOf(process.pid), 'SIGKILL');
    removeRunDir();
  });

// One run per process: whether a signal has begun stopping it is the process's own state.
let stopping = false;
async function stopRun(signal: NodeJS.Signals, code: number): Promise<void> {
  const procs = descendantsOf(process.pid);
  if (stopping) {
    signalAll(procs, 'SIGKILL');
    process.exit(code);
  }
  stopping = true;
  // The run's own code fails as its servers go (a 503, a reset connection): that is the stop, not
  // a fault to report with a stack trace over the message below.
  process.on('uncaughtException', () => undefined);
  process.on('unhandledRejection', () => undefined);
  process.stderr.write(
    `\n${signal}: stopping the run (${procs.length} child process(es)) and removing ${RUN_DIR}; nothing more is measured\n`,
  );
  signalAll(procs, 'SIGTERM');
  const deadline = Date.now() + 8000;
  while (descendantsOf(process.pid).length > 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  process.exit(code); // the exit handler kills what is left and removes RUN_DIR
}

/**
 * failRun ends a run that threw (its main rejected, or a promise nobody awaited did) with exit code 1
 * and one sentence on stderr naming the script: a wait that gave up (`timed out waiting for ...`),
 * a command that refused (a DistkvError) or a system error (its `code`) is the run's outcome, told
 * without a stack trace; any other error is a fault of the benchmark, printed with its stack.
 * Before, each of them ended the run with node's report of an uncaught error. While a signal stops
 * the run, errors are the stop's (stopRun) and are not reported.
 */
function failRun(err: unknown): void {
  if (stopping) return;
  const script = basename(process.argv[1] ?? 'bench');
  const told =
    err instanceof Error &&
    (err.name === 'AssertionError' || typeof (err as { code?: unknown }).code === 'string');
  const text = err instanceof Error ? (told ? err.message : (err.stack ?? err.message)) : String(err);
  process.stderr.write(`${script}: the run failed: ${text}\n`);
  process.exit(1); // the exit handler kills what is left and removes RUN_DIR
}

process.on('uncaughtException', failRun);

if (!INNER) {
  process.on('SIGINT', () => void stopRun('SIGINT', 130));
  process.on('SIGTERM', () => void stopRun('SIGTERM', 143));
}
