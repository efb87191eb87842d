/**
 * `distkv watch PREFIX` (docs/watch.md, "CLI"): piped, one JSON object per event; Ctrl-C (SIGINT)
 * stops it with exit 0 and the cursor to resume from on stderr; `--from` that cursor resumes after it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

async function until(test: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20000;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function lines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('distkv watch', () => {
  it('prints JSON lines when piped and stops cleanly on Ctrl-C with a cursor that resumes', async () => {
    const dir = tempDir(after);
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const config = writeConfig(dir, [{ address }, { address }]);
    const server = await ServerProcess.start(
      ['--config', config, '--data-dir', join(dir, 'data')],
      `http://${address}/healthz`,
      { DISTKV_LOG_LEVEL: 'warn' },
    );
    try {
      const watch = ServerProcess.spawn(['watch', 'cli/', '--url', address, '--from', '0.0']);
      const put = async (k: string, v: string): Promise<void> => {
        const r = await fetch(`http://${address}/kv/${k}`, { method: 'PUT', body: v });
        assert.equal(r.status, 204);
      };
      await put('cli/a', '1');
      await put('other', 'x');
      await put('cli/b', '2');
      await until(() => lines(watch.stdout).length >= 2, 'two events');
      watch.child.kill('SIGINT');
      assert.equal(await watch.waitExit(), 0);
      const events = lines(watch.stdout);
      assert.deepEqual(events.map((e) => `${String(e.type)} ${String(e.key)} ${String(e.value)}`).sort(), [
        'put cli/a 1',
        'put cli/b 2',
      ]);
      assert.ok(events.every((e) => typeof e.cursor === 'string' && typeof e.version === 'string'));
      const cursor = /cursor: (\S+)/.exec(watch.stderr)?.[1];
      assert.ok(cursor !== undefined, `a cursor on stderr: ${watch.stderr}`);

      await put('cli/c', '3');
      const resumed = ServerProcess.spawn(['watch', 'cli/', '--url', address, '--from', cursor]);
      await until(() => lines(resumed.stdout).length >= 1, 'the resumed event');
      resumed.child.kill('SIGINT');
      assert.equal(await resumed.waitExit(), 0);
      assert.deepEqual(
        lines(resumed.stdout).map((e) => e.key),
        ['cli/c'],
      );
    } finally {
      await server.stop();
    }
  });
});
