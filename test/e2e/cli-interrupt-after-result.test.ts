/**
 * Ctrl-C just as `distkv restore` prints "restored N keys" or `distkv load` prints "...; durable":
 * the keys are written, yet the command died of the signal (130), its handlers removed as its work
 * settled and Node's default ending it while it closed its files and flushed its output. A script
 * that reran it on 130 restored or loaded again. The signal is sent by the command itself, the
 * moment it writes its result line, or for load on the turn after (test/helpers/signal-after.ts),
 * so it falls in that window every time; by hand it did one time in three.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { runCli, startOneNode, writeConfig } from '../helpers/server-process.js';
import { signalAfterEnv } from '../helpers/signal-after.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('a command interrupted as it prints its result', { timeout: 120000 }, () => {
  it('restore exits 0 when the interrupt comes after "restored N keys"', async () => {
    const node = await startOneNode('', [], { DISTKV_LOG_LEVEL: 'warn' });
    try {
      const url = `http://${node.address}`;
      for (const k of ['a', 'b', 'c']) {
        const r = await fetch(`${url}/kv/${k}`, { method: 'PUT', body: `value ${k}` });
        assert.equal(r.status, 204, await r.text());
      }
      const file = join(tempDir(after), 'three.dkvb');
      const backup = await runCli(['backup', file, '--url', node.address]);
      assert.equal(backup.code, 0, backup.stderr);
      const restore = await runCli(
        ['restore', file, '--force', '--url', node.address],
        signalAfterEnv('^restored '),
      );
      assert.match(restore.stdout, /^restored 3 keys/);
      assert.equal(restore.code, 0, `exit ${String(restore.code)}, stderr: ${restore.stderr}`);
    } finally {
      await node.stop();
    }
  });

  it('load exits 0 when the interrupt comes after "...; durable"', async () => {
    const dir = tempDir(after);
    const [port] = await freePorts(1);
    const config = writeConfig(dir, [{ address: `127.0.0.1:${String(port)}` }]);
    const file = join(dir, 'three.jsonl');
    writeFileSync(file, ['a', 'b', 'c'].map((k) => `{"key":"${k}","value":"1"}\n`).join(''));
    const load = await runCli(
      ['load', file, '--config', config, '--data-dir', join(dir, 'data')],
      // load prints its line inside its interruptible work, whose handler would still take a
      // signal sent at once (and the settling work then drop it): the next turn is after it.
      signalAfterEnv('; durable', true),
    );
    assert.match(load.stdout, /^loaded 3 lines .*; durable/);
    assert.equal(load.code, 0, `exit ${String(load.code)}, stderr: ${load.stderr}`);
  });
});
