/**
 * The harness's account of a start that did not become healthy (test/helpers/start-diagnosis.ts):
 * a child idle in its event loop shows its sockets and timers; one whose main thread is stuck
 * outside JavaScript is said to be so; the report file is removed either way.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { diagnose, reportEnv, threadWaits } from '../helpers/start-diagnosis.js';

const children: ChildProcess[] = [];

/** child runs `code` in a node process spawned with the report options; resolves once it printed "ready". */
async function child(code: string): Promise<{ proc: ChildProcess; report: ReturnType<typeof reportEnv> }> {
  const report = reportEnv({});
  const proc = spawn(process.execPath, ['-e', code], {
    env: { ...process.env, ...report.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(proc);
  await new Promise<void>((resolve, reject) => {
    proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('ready')) resolve();
    });
    proc.on('exit', (c) => {
      reject(new Error(`child exited with ${String(c)}`));
    });
  });
  return { proc, report };
}

after(() => {
  for (const c of children) c.kill('SIGKILL');
});

describe('a start that did not become healthy', () => {
  it('names the sockets and timers of a child idle in its event loop', async () => {
    const { proc, report } = await child(
      "const s = require('net').createServer().listen(0, '127.0.0.1', () => console.log('ready')); setTimeout(() => s.close(), 60000);",
    );
    const lines = await diagnose(proc.pid, report);
    const text = lines.join('\n');
    assert.match(text, /^threads \(name state wchan\): .+ S /m);
    assert.match(text, /JavaScript stack: \(idle in the event loop\)/);
    assert.match(text, /^ {2}tcp \S+:\d+ -> -$/m);
    assert.match(text, /^ {2}timer in \d+ ms$/m);
    assert.equal(existsSync(report.file), false);
  });

  it('says so when the main thread never gets back to JavaScript', async () => {
    const { proc, report } = await child(
      "console.log('ready'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);",
    );
    const lines = await diagnose(proc.pid, report);
    assert.match(
      lines.join('\n'),
      /no report within 10000 ms of SIGUSR2: its main thread did not run JavaScript/,
    );
    proc.kill('SIGKILL');
  });

  it('lists nothing for a process that is gone', async () => {
    assert.deepEqual(threadWaits(undefined), []);
    const { proc, report } = await child("console.log('ready'); setTimeout(() => {}, 60000);");
    const pid = proc.pid;
    proc.kill('SIGKILL');
    await new Promise((r) => proc.once('exit', r));
    assert.deepEqual(await diagnose(pid, report), [
      'threads (name state wchan): ',
      'no report: the process is gone',
    ]);
  });
});
