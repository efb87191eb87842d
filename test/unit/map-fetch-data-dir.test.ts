/**
 * `distkv map fetch --data-dir DIR` wrote the peer's map into whatever DIR named: a directory that
 * did not exist was created holding only live-map.json, and any other directory got one too, with
 * exit 0. It now refuses (exit 2, nothing written) a directory that does not exist, a file, and a
 * directory that holds nothing a node leaves in its data directory (its lock, its live map, a
 * store `<node>/<shard>`), naming the directory; a node's data directory takes the map. The peer
 * is a twin: a node:http server answering /cluster with the config's hash and a map.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load-config.js';
import { initialLiveMap } from '../../src/routing/live-map.js';
import { topologyHash } from '../../src/routing/shard-map.js';
import { LIVE_MAP_FILE, saveLiveMap } from '../../src/server/live-map-file.js';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const CONFIG_FILE = fileURLToPath(new URL('../../../config/default.toml', import.meta.url));
const config = loadConfig(CONFIG_FILE, {}, {});
const map = initialLiveMap(config.shards);

describe('distkv map fetch --data-dir', () => {
  const root = tempDir(after, 'distkv-map-fetch-dir-');
  let peer: Server;
  let addr = '';
  before(async () => {
    peer = createServer((_req, res) => {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ version: topologyHash(config.shards), map_version: map.version, map }));
    });
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    addr = `127.0.0.1:${(peer.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => peer.close(r));
  });

  const fetchInto = (dir: string): ReturnType<typeof runCli> =>
    runCli(['map', 'fetch', '--from', addr, '--config', CONFIG_FILE, '--data-dir', dir]);
  const FIX =
    "give the data directory the node starts with (its --data-dir, else its config's server.data_dir)";

  it('refuses a directory that does not exist, creating nothing', async () => {
    const gone = join(root, 'new-dir');
    const r = await fetchInto(gone);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.split('\n')[0], `distkv map: --data-dir: ${resolve(gone)} does not exist: ${FIX}`);
    assert.equal(existsSync(gone), false);
  });

  it('refuses a file, and a directory that is no data directory, writing nothing', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    const f = await fetchInto(file);
    assert.equal(f.code, 2, f.stderr);
    assert.equal(
      f.stderr.split('\n')[0],
      `distkv map: --data-dir: ${resolve(file)} is not a directory: ${FIX}`,
    );
    const other = mkdtempSync(join(root, 'other-'));
    mkdirSync(join(other, 'photos'));
    const o = await fetchInto(other);
    assert.equal(o.code, 2, o.stderr);
    assert.equal(
      o.stderr.split('\n')[0],
      `distkv map: --data-dir: ${resolve(other)} is not a distkv data directory (it holds files, but no ${LIVE_MAP_FILE}, no LOCK and no store directory <node>/<shard>): ${FIX}`,
    );
    assert.equal(existsSync(join(other, LIVE_MAP_FILE)), false);
  });

  it("writes into a node's data directory (one holding its live map)", async () => {
    const node = mkdtempSync(join(root, 'node-'));
    saveLiveMap(node, map);
    const r = await fetchInto(node);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(readFileSync(join(node, LIVE_MAP_FILE), 'utf8')), map);
  });
});
