/**
 * `distkv map fetch` from a peer whose config is not the one the command read names the file it
 * read and says to give --config the node's own file. The fix of a damaged live-map.json that
 * docs/failover.md and the node's own CORRUPTION message show is `distkv map fetch --from PEER
 * --data-dir DIR`: without --config it reads config/default.toml, and the refusal said only "give
 * every node the same sharding", which the nodes already had.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load-config.js';
import { topologyHash } from '../../src/routing/shard-map.js';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const DEFAULT_FILE = fileURLToPath(new URL('../../../config/default.toml', import.meta.url));
const hash = topologyHash(loadConfig(DEFAULT_FILE, {}, {}).shards);
const dir = tempDir(after);
// A peer that routes with another config: its /cluster names another hash.
const peer = createServer((_req, res) => {
  res
    .writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify({ version: 'bba751fe22ead298', map: {} }));
});
let addr = '';

before(async () => {
  await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
  addr = `127.0.0.1:${(peer.address() as AddressInfo).port}`;
});
after(() => {
  peer.close();
});

describe('distkv map fetch from a peer on another config', () => {
  it('names the file it read, whether --config was given, and says to give the node its own', async () => {
    for (const given of [false, true]) {
      const r = await runCli([
        'map',
        'fetch',
        '--from',
        addr,
        '--data-dir',
        join(dir, String(given)),
        ...(given ? ['--config', DEFAULT_FILE] : []),
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(
        r.stderr.split('\n')[0],
        `distkv map: CONFIG_MISMATCH: http://${addr} routes with config bba751fe22ead298, and ${DEFAULT_FILE}${given ? '' : ' (the default: no --config given)'} is config ${hash}: its map is not for these shards. Give --config the sharding.toml this node starts with (the nodes of a cluster share one)`,
      );
    }
  });
});
