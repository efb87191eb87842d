/**
 * The seed's replication endpoints while the node is starting (its stores not open yet): a seed
 * replica polling `/next-replication-key` (and acknowledging with `/delete-replication-key`) is told
 * 503 "node is starting", as every other route says, in the seed's text format. It was told "shard
 * worker 0 is not running", which reads as a crash in the replica's log. stall-load.ts holds the
 * worker's module so that the node stays in its start.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { BIN, REPO_ROOT, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const REGISTER = fileURLToPath(new URL('../helpers/stall-load-register.js', import.meta.url));
const dir = tempDir(after);
let child: ChildProcess | undefined;
after(async () => {
  if (child === undefined || child.exitCode !== null) return;
  const exited = new Promise((r) => child!.once('exit', r));
  child.kill('SIGKILL');
  await exited;
});

/** waitFor polls `check` every 20 ms for up to 20 s. */
async function waitFor(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + 20000;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('seed replication endpoints while the node starts', () => {
  it('answer 503 "node is starting" in the seed text format, then serve', async () => {
    const [port] = await freePorts(1);
    const node = `127.0.0.1:${String(port)}`;
    const config = writeConfig(dir, [{ address: node }]);
    const reached = join(dir, 'reached');
    const until = join(dir, 'until');
    child = spawn(
      process.execPath,
      ['--import', REGISTER, BIN, 'serve', '--config', config, '--data-dir', join(dir, 'data')],
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          DISTKV_LOG_LEVEL: 'warn',
          DISTKV_TEST_STALL_MODULE: '/bundle/workers/shard-worker.js',
          DISTKV_TEST_STALL_REACHED: reached,
          DISTKV_TEST_STALL_UNTIL: until,
        },
      },
    );
    await waitFor("the worker's module load", () => existsSync(reached));
    // The main thread listens before its workers run: the node answers, and is starting.
    await waitFor('the node to listen', async () => {
      try {
        return (await fetch(`http://${node}/healthz`)).status === 503;
      } catch {
        return false;
      }
    });
    for (const path of ['/next-replication-key', '/delete-replication-key?key=a&value=b']) {
      const res = await fetch(`http://${node}${path}`);
      assert.equal(res.status, 503, path);
      assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8', path);
      assert.equal(await res.text(), 'Error: node is starting; its stores are not open yet\n', path);
    }
    writeFileSync(until, '');
    await waitFor('the node to serve', async () => (await fetch(`http://${node}/healthz`)).status === 200);
    const next = await fetch(`http://${node}/next-replication-key`);
    assert.equal(next.status, 200);
    assert.deepEqual(await next.json(), { key: '', value: '' });
  });
});
