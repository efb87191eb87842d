/**
 * A store whose LMDB directory was removed by hand (its bottom level: every compacted or loaded
 * key) must be refused at start, naming what is gone. After `distkv load` (the store never served,
 * so no log records its seqs) it was served empty: every GET 404, nothing logged. A served store
 * was refused, but the refusal said "a run was deleted or cut short by hand" (clean stop) or "a run
 * older than 000001.sst is missing ... put the run back" (after a kill -9), naming runs that never
 * existed, so an operator looks for the wrong file. (Without a load the log still holds every seq
 * and replays the store whole: that case is fine.)
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { runCli, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

let server: ServerProcess | undefined;
after(async () => {
  await server?.stop();
});

/** loadedNode bulk-loads 50 keys into a one-node cluster's data directory; returns its config, data dir and address. */
async function loadedNode(dir: string): Promise<{ config: string; data: string; address: string }> {
  const [port] = await freePorts(1);
  const address = `127.0.0.1:${String(port)}`;
  const config = writeConfig(dir, [{ address }], '[server]\nresp_port_offset = 0');
  const data = join(dir, 'data');
  const file = join(dir, 'keys.jsonl');
  writeFileSync(
    file,
    Array.from({ length: 50 }, (_, i) =>
      JSON.stringify({ key: `k${String(i)}`, value: `v${String(i)}` }),
    ).join('\n') + '\n',
  );
  const loaded = await runCli(['load', file, '--config', config, '--data-dir', data]);
  assert.equal(loaded.code, 0, loaded.stderr);
  return { config, data, address };
}

/** startWithoutLmdb removes the store's lmdb directory, starts the node, reads k1; returns its status and the logged refusal. */
async function startWithoutLmdb(
  config: string,
  data: string,
  address: string,
): Promise<{ status: number; refusal: string }> {
  rmSync(join(data, address.replace(':', '_'), 'shard-0', 'lmdb'), { recursive: true, force: true });
  server = await ServerProcess.start(
    ['--config', config, '--data-dir', data, '--workers', '1'],
    `http://${address}/healthz`,
    { DISTKV_LOG_LEVEL: 'warn' },
    30000,
  );
  const got = await fetch(`http://${address}/kv/k1`, { signal: AbortSignal.timeout(10000) });
  await got.arrayBuffer();
  await server.stop();
  const refusal = (server.stdout + server.stderr)
    .split('\n')
    .filter((l) => l.includes('could not open'))
    .join('\n');
  return { status: got.status, refusal };
}

describe('a store whose LMDB directory was removed', () => {
  it('is refused after a bulk load, not served empty', async () => {
    const { config, data, address } = await loadedNode(tempDir(after));
    const { status } = await startWithoutLmdb(config, data, address);
    assert.equal(status, 503, 'the store is refused, not served empty');
  });

  it('is refused after a load and a write, naming its LMDB level, not a run that never existed', async () => {
    const { config, data, address } = await loadedNode(tempDir(after));
    server = await ServerProcess.start(
      ['--config', config, '--data-dir', data, '--workers', '1'],
      `http://${address}/healthz`,
      { DISTKV_LOG_LEVEL: 'warn' },
      30000,
    );
    const put = await fetch(`http://${address}/kv/after-load`, { method: 'PUT', body: 'x' });
    assert.equal(put.status, 204, 'a write after the load (its log then starts above the loaded seqs)');
    await server.stop();
    const { status, refusal } = await startWithoutLmdb(config, data, address);
    assert.equal(status, 503, 'the store is refused, not served empty');
    assert.doesNotMatch(refusal, /a run was deleted|a run older than/, 'it blames a run that never existed');
    assert.match(refusal, /lmdb/, 'it names the store’s lmdb directory');
  });
});
