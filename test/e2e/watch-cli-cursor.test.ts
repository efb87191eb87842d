/**
 * `distkv watch` prints on Ctrl-C the cursor where the watch stood, not only where its last change
 * was: a watch that saw no change printed no cursor at all (or `now` again for `--from now`), so
 * the changes made between its Ctrl-C and a later watch were never shown.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

async function until(test: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30000;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** keysOf returns the keys of the JSON lines a piped watch printed. */
function keysOf(stdout: string): unknown[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { key?: unknown }).key);
}

describe('distkv watch cursor', () => {
  it('prints a cursor after a watch that saw no change, and a watch from it shows the changes made since', async () => {
    const dir = tempDir(after);
    const address = `127.0.0.1:${await freePort()}`;
    const config = writeConfig(dir, [{ address }, { address }]);
    const server = await ServerProcess.start(
      ['--config', config, '--data-dir', join(dir, 'data'), '--workers', '1'],
      `http://${address}/healthz`,
      { DISTKV_LOG_LEVEL: 'warn' },
    );
    try {
      const put = async (k: string): Promise<void> => {
        const r = await fetch(`http://${address}/kv/${k}`, { method: 'PUT', body: 'v' });
        assert.equal(r.status, 204);
      };
      await put('cli/before');
      // The watch cannot say when its stream started: each try waits longer before Ctrl-C.
      let cursor: string | undefined;
      const outputs: string[] = [];
      for (const waitMs of [2000, 4000, 8000]) {
        const watch = ServerProcess.spawn(['watch', 'cli/', '--url', address]);
        await new Promise((r) => setTimeout(r, waitMs));
        watch.child.kill('SIGINT');
        const code = await watch.waitExit();
        // Killed by the signal itself: the CLI had not started yet (a loaded machine), so it is
        // tried again with a longer wait; a CLI that never handles Ctrl-C fails every try.
        if (code === null && watch.child.signalCode === 'SIGINT') {
          outputs.push(`killed by SIGINT after ${waitMs} ms, before handling it: ${watch.stderr}`);
          continue;
        }
        assert.equal(code, 0, watch.stderr);
        assert.equal(watch.stdout, '', 'no change was made while it watched');
        outputs.push(watch.stderr);
        cursor = /cursor: (\S+)/.exec(watch.stderr)?.[1];
        if (cursor !== undefined) break;
      }
      assert.ok(cursor !== undefined, `a cursor on stderr: ${JSON.stringify(outputs)}`);
      assert.match(cursor, /^0:\d+\.\d+,1:\d+\.\d+$/, 'both shards, each at a version');

      await put('cli/between');
      const resumed = ServerProcess.spawn(['watch', 'cli/', '--url', address, '--from', cursor]);
      await until(() => keysOf(resumed.stdout).length >= 1, 'the change made between the two watches');
      resumed.child.kill('SIGINT');
      assert.equal(await resumed.waitExit(), 0);
      assert.deepEqual(keysOf(resumed.stdout), ['cli/between']);
    } finally {
      await server.stop();
    }
  });
});
