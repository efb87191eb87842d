/**
 * The exit path every distkv command shares (src/cli/interrupt.ts): once a command's work is done,
 * a SIGINT or SIGTERM does not turn its result into 130 or 143. whileInterruptible (backup,
 * restore, load) and stopOnSignal (failover, bench) removed their handlers as the work settled,
 * and with no listener Node's default ends the process at once: a Ctrl-C as `distkv failover`
 * printed "leader A → B" exited 130 though the leader had moved, and as `restore` printed
 * "restored N keys" or `load` "...; durable" the same. Each case runs in its own process, which
 * sends itself the signal after the work and then exits with a code of its own (7).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';

const INTERRUPT = new URL('../../src/cli/interrupt.js', import.meta.url).href;
const MAIN = new URL('../../src/cli/main.js', import.meta.url).href;

/** afterWorkExit runs `body` (an ES module's code) in a new process and resolves with how it ended. */
function afterWorkExit(
  body: string,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const script = `const signalTwice = async (signal, n) => {
  for (let i = 0; i < n; i++) {
    process.kill(process.pid, signal);
    await new Promise((r) => setTimeout(r, 100));
  }
};
${body}
process.exit(7);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stderr });
    });
  });
}

describe('a signal after a command finished its work', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    it(`leaves the exit code of a whileInterruptible command (restore, load, backup) as it is on ${signal}`, async () => {
      const r =
        await afterWorkExit(`const { whileInterruptible } = await import(${JSON.stringify(INTERRUPT)});
await whileInterruptible(async () => 0, () => {}, 'interrupted');
await signalTwice(${JSON.stringify(signal)}, 1);`);
      assert.deepEqual(r, { code: 7, signal: null, stderr: '' });
    });

  it('leaves the exit code of a stopOnSignal command (failover, bench) as it is', async () => {
    const r = await afterWorkExit(`const { stopOnSignal } = await import(${JSON.stringify(INTERRUPT)});
const signals = stopOnSignal(() => {}, 'stopping');
await new Promise((r) => setTimeout(r, 10));
signals.done();
await signalTwice('SIGINT', 1);`);
    assert.deepEqual(r, { code: 7, signal: null, stderr: '' });
  });

  it('exits at once with 130 on the signal after done when a signal already stopped the work (its "again to quit at once")', async () => {
    // The first signal is handled before done: signalTwice's 100 ms alone were not enough in a
    // process starved of CPU (its timer then ran first, and done came before the signal's handler).
    const r = await afterWorkExit(`const { stopOnSignal } = await import(${JSON.stringify(INTERRUPT)});
let stopped;
const heard = new Promise((r) => (stopped = r));
const signals = stopOnSignal(() => stopped(), 'stopping; again to quit at once');
await signalTwice('SIGINT', 1);
await heard;
signals.done();
await signalTwice('SIGINT', 1);
await new Promise((r) => setTimeout(r, 30_000));`);
    assert.deepEqual(r, { code: 130, signal: null, stderr: 'stopping; again to quit at once\n' });
  });

  it('leaves the exit code of a verb without handlers (main returned) as it is', async () => {
    const r = await afterWorkExit(`const { main } = await import(${JSON.stringify(MAIN)});
await main(['--version']);
await signalTwice('SIGINT', 1);`);
    assert.deepEqual(r, { code: 7, signal: null, stderr: '' });
  });

  it('exits at once with 130 on a second signal (a flush or close that hangs can still be ended)', async () => {
    const r = await afterWorkExit(`const { whileInterruptible } = await import(${JSON.stringify(INTERRUPT)});
await whileInterruptible(async () => 0, () => {}, 'interrupted');
await signalTwice('SIGINT', 2);
await new Promise((r) => setTimeout(r, 30_000));`);
    assert.deepEqual(r, { code: 130, signal: null, stderr: '' });
  });

  it('still interrupts the work itself: undo, its message, 130', async () => {
    const r = await afterWorkExit(`const { whileInterruptible } = await import(${JSON.stringify(INTERRUPT)});
await whileInterruptible(
  async () => {
    await signalTwice('SIGINT', 1);
    await new Promise((r) => setTimeout(r, 30_000));
  },
  () => process.stderr.write('undone\\n'),
  'interrupted',
);`);
    assert.deepEqual(r, { code: 130, signal: null, stderr: 'undone\ninterrupted\n' });
  });
});
