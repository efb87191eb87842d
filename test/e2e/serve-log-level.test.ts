/**
 * `distkv serve --log-level` and DISTKV_LOG_LEVEL: a level that is not one is a usage mistake
 * (exit 2, one line naming where it came from), not pino's "default level:loud must be included in
 * custom levels" with exit 1; an empty DISTKV_LOG_LEVEL (a systemd EnvironmentFile's
 * `DISTKV_LOG_LEVEL=`) means the default, where it stopped the node with that message.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { runCli, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('distkv serve: the log level', () => {
  it('refuses a level that is not one, from --log-level or DISTKV_LOG_LEVEL, with exit 2', async () => {
    const flag = await runCli(['serve', '--log-level', 'loud']);
    assert.equal(flag.code, 2, flag.stderr);
    assert.match(flag.stderr, /--log-level must be one of trace, debug, info, warn, error, got "loud"/);
    const env = await runCli(['serve'], { DISTKV_LOG_LEVEL: 'verbose' });
    assert.equal(env.code, 2, env.stderr);
    assert.match(env.stderr, /DISTKV_LOG_LEVEL must be one of .*, got "verbose"/);
  });

  it('starts with an empty DISTKV_LOG_LEVEL, at the default level, and takes a level in capitals', async () => {
    const dir = tempDir(after);
    const address = `127.0.0.1:${await freePort()}`;
    const config = writeConfig(dir, [{ address }]);
    for (const [level, env] of [
      [[], { DISTKV_LOG_LEVEL: '' }],
      [['--log-level', 'WARN'], {}],
    ] as const) {
      const server = await ServerProcess.start(
        ['--config', config, '--data-dir', join(dir, 'data'), '--workers', '1', ...level],
        `http://${address}/healthz`,
        env,
      );
      await server.stop();
    }
  });
});
