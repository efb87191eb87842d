/**
 * `distkv get/set/del` against a node that accepts connections but does not answer (SIGSTOP):
 * the client waits 10 s per attempt and retries, about 80 s in all, and the CLI said nothing
 * meanwhile. It now says, after SLOW_NOTE_MS, that it is still trying and what Ctrl-C means.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { SLOW_NOTE_MS } from '../../src/cli/slow-note.js';
import { freePorts } from '../helpers/ports.js';
import { BIN, type OwnServer, startOwnServer } from '../helpers/server-process.js';
import { pauseProcess } from '../helpers/process-pause.js';

let own: OwnServer;
let node = '';

before(async () => {
  const [port] = await freePorts(1);
  node = `127.0.0.1:${port}`;
  own = await startOwnServer([{ address: node }], '[server]\nresp_port_offset = 0\n', [
    '--workers',
    '1',
    '--durability',
    'none',
  ]);
});

after(async () => {
  own.server.child.kill('SIGCONT');
  await own.stop();
});

/** stderrWithin runs the CLI with `args`, and resolves with its stderr once `pattern` shows or `ms` passed; then kills it. */
function stderrWithin(args: string[], pattern: RegExp, ms: number): Promise<{ stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, DISTKV_URL: node } });
    let stderr = '';
    const done = (): void => {
      clearTimeout(guard);
      child.kill('SIGKILL');
      resolve({ stderr, ms: performance.now() - t0 });
    };
    const guard = setTimeout(done, ms);
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (pattern.test(stderr)) done();
    });
  });
}

describe('CLI against a node that does not answer', () => {
  it('says after a few seconds that it is still waiting, for a read and a write', async () => {
    await pauseProcess(own.server.child);
    try {
      // Both at once: each waits out its own SLOW_NOTE_MS (one after the other, that was twice
      // this case's time); each process is timed from its own start.
      const [get, set] = await Promise.all([
        stderrWithin(['get', 'k'], /no answer yet/, SLOW_NOTE_MS + 5000),
        stderrWithin(['set', 'k', 'v'], /no answer yet/, SLOW_NOTE_MS + 5000),
      ]);
      assert.match(get.stderr, /distkv get: no answer yet after 5 s; still trying .*Ctrl-C gives up\n/);
      assert.ok(get.ms >= SLOW_NOTE_MS - 100, `the note came after ${Math.round(get.ms)} ms`);
      assert.match(set.stderr, /distkv set: no answer yet .*the write may then be applied or not/);
      assert.ok(set.ms >= SLOW_NOTE_MS - 100, `the note came after ${Math.round(set.ms)} ms`);
    } finally {
      own.server.child.kill('SIGCONT');
    }
  });
});
