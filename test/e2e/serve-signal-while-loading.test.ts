/**
 * Ctrl-C or SIGTERM while `distkv` is still loading its modules (about a second on a busy
 * machine, before any command has run): `distkv serve` stops without opening anything and exits
 * 0, and the next start finds a clean stop; another command ends as the signal ends it. serve
 * used to die of the signal there (exit 130 or 143): the handlers that stop it cleanly were
 * installed only once its modules had loaded. stall-load.ts holds the load of main.js so that the
 * signal comes exactly in that window.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { type ServeRun, serveUntil } from '../helpers/serve-run.js';
import { BIN, REPO_ROOT, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const REGISTER = fileURLToPath(new URL('../helpers/stall-load-register.js', import.meta.url));

/**
 * run starts `distkv <args>` with the load of main.js held, sends `signal` once the load is held,
 * then lets it go on; it resolves with how the command ended (killed after 30 s if it does not).
 */
async function run(args: string[], signal: NodeJS.Signals, dir: string): Promise<ServeRun> {
  const reached = join(dir, `reached-${signal}`);
  const until = join(dir, `until-${signal}`);
  const child = spawn(process.execPath, ['--import', REGISTER, BIN, ...args], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      DISTKV_TEST_STALL_MODULE: '/bundle/src/cli/main.js',
      DISTKV_TEST_STALL_REACHED: reached,
      DISTKV_TEST_STALL_UNTIL: until,
    },
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const ended = new Promise<ServeRun>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      resolve({ code, signal: sig, output });
    });
  });
  const deadline = Date.now() + 20000;
  while (!existsSync(reached) && Date.now() < deadline) await sleep(10);
  assert.ok(existsSync(reached), `the load of main.js was never reached:\n${output}`);
  // Sent while main.js is held: serve's handlers, installed once main.js and serve.js have loaded,
  // find it held; without the hold it ends the process.
  child.kill(signal);
  writeFileSync(until, '');
  return ended;
}

describe('a signal while distkv loads its modules', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    it(`stops serve on ${signal} before it opens anything, exit 0, and the next start finds a clean stop`, async () => {
      const dir = tempDir(after);
      const [a, b] = await freePorts(2);
      const config = writeConfig(dir, [{ address: `127.0.0.1:${a!}`, replicas: [`127.0.0.1:${b!}`] }]);
      const args = ['--config', config, '--data-dir', join(dir, 'data'), '--workers', '1'];
      const first = await run(['serve', ...args], signal, dir);
      assert.equal(first.signal, null, `killed by ${String(first.signal)}:\n${first.output}`);
      assert.equal(first.code, 0, first.output);
      assert.match(first.output, /stopped before starting \(the signal came while distkv loaded\)/);
      assert.doesNotMatch(first.output, /starting distkv/);
      const second = await serveUntil(args, /"msg":"serving on /, 'SIGTERM');
      assert.equal(second.code, 0, second.output);
      assert.doesNotMatch(second.output, /did not stop cleanly/);
    });

  it('ends another command as the signal does (it did before: nothing to stop cleanly)', async () => {
    const dir = tempDir(after);
    const [closed] = await freePorts(1);
    const r = await run(['get', 'k', '--url', `127.0.0.1:${closed!}`], 'SIGINT', dir);
    assert.equal(r.signal, 'SIGINT', `code ${String(r.code)}:\n${r.output}`);
  });
});
