/**
 * A node restarted with another storage engine on the same data directory (`--engine lmdb` after
 * `lsm`, or back). Before, it opened the store as if it were empty or whole: under `lmdb` the keys
 * an `lsm` store held in its log and runs read as missing, new writes started again at seq 1 (so
 * versions repeated, and an old If-Match could match a new write), and back under `lsm` the log
 * replayed over them: acknowledged writes were lost. Now a store written by one engine does not
 * open under the other: its requests get 503 naming the engine to start with, and nothing in its
 * directory changes. The same holds for `--engine memory`, which served such a store as empty.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { ServerProcess, writeConfig } from '../helpers/server-process.js';

describe('a store opened with another engine than the one that wrote it', () => {
  let dir = '';
  let address = '';
  let config = '';
  let server: ServerProcess | undefined;

  const start = async (engine: string): Promise<ServerProcess> => {
    server = await ServerProcess.start(
      ['--config', config, '--data-dir', join(dir, 'data'), '--inline', '--engine', engine],
      `http://${address}/healthz`,
    );
    return server;
  };
  const put = (key: string, value: string): Promise<Response> =>
    fetch(`http://${address}/kv/${key}`, { method: 'PUT', body: value });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'distkv-engine-'));
    address = `127.0.0.1:${await freePort()}`;
    config = writeConfig(dir, [{ address }], '[server]\nresp_port_offset = 0');
  });

  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to open it, naming the engine, and keeps every write for the right one', async () => {
    await start('lsm');
    assert.equal((await put('k', 'from lsm')).status, 204);
    assert.equal(await server!.stop(), 0);

    const lmdb = await start('lmdb');
    const get = await fetch(`http://${address}/kv/k`);
    assert.equal(get.status, 503, 'not a 404: the key is there, under another engine');
    const body = (await get.json()) as { error: { code: string; message: string } };
    assert.match(body.error.message, /lsm/);
    assert.equal((await put('k', 'from lmdb')).status, 503, 'no write lands where lsm would not read it');
    assert.match(lmdb.stdout, /written by the lsm engine/);
    assert.equal(await server!.stop(), 0);

    await start('lsm');
    const again = await fetch(`http://${address}/kv/k`);
    assert.equal(again.status, 200);
    assert.equal(await again.text(), 'from lsm');
    assert.equal((await put('k2', 'v')).headers.get('etag'), '"0.2"', 'seqs go on from the store');
    assert.equal(await server!.stop(), 0);

    // --engine memory over the same directory would answer 404 for every key the store holds.
    const memory = await start('memory');
    const fromMemory = await fetch(`http://${address}/kv/k`);
    assert.equal(fromMemory.status, 503, 'not a 404: the key is on disk, under lsm');
    assert.match(memory.stdout, /holds data of the lsm engine: the memory engine would serve it as empty/);
    assert.equal(await server!.stop(), 0);
    await start('lsm');
    assert.equal(
      await (await fetch(`http://${address}/kv/k`)).text(),
      'from lsm',
      'memory left the store as it was',
    );
  });
});
