/**
 * `npm start` (config/default.toml: nodes 127.0.0.1:8080 and 127.0.0.1:8081, data in ./data) on a
 * data directory left by an earlier run of another config in the same default `./data` (the seed's
 * sharding.toml, whose nodes are 127.0.0.2:8080...; or any config of the README's examples). Every
 * config defaults `data_dir` to `./data`, so trying one config and then `npm start` from the same
 * checkout is the ordinary first-hour path (README, "Running other layouts"). The start warns of the
 * other config's stores as left over (left-stores.ts) and serves; refuseOtherNodesDir
 * (node-dir-check.ts) refused it for a while, exit 2, as "a node whose address changed", though no
 * address changed. It now refuses a directory of addresses the config no longer names only with
 * `--node` (one node per data directory: an edited address is the likely story there).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { refuseOtherNodesDir } from '../../src/cli/node-dir-check.js';
import { parseConfigText } from '../../src/config/load-config.js';
import { tempDir } from '../helpers/temp-dir.js';

/** storeAt makes an lsm store directory `<data>/<nodeDir>/<shard>` (its runs and its commit-log pointer). */
function storeAt(data: string, nodeDir: string, shard: string): void {
  const dir = join(data, nodeDir, shard);
  mkdirSync(join(dir, 'runs'), { recursive: true });
  writeFileSync(join(dir, 'commit-log'), Buffer.alloc(10));
}

describe('npm start on the default ./data left by a run of another config', () => {
  it('starts (warning of the other config’s stores), as it did before', () => {
    const data = tempDir(after);
    // What `distkv serve --config sharding.toml` (the seed's) left in ./data.
    for (let i = 0; i < 5; i++) storeAt(data, `127.0.0.${String(i + 2)}_8080`, `shard-${String(i)}`);
    const text = readFileSync(new URL('../../../config/default.toml', import.meta.url), 'utf8');
    const config = parseConfigText(text, 'config/default.toml', { 'server.data_dir': data }, {});
    assert.doesNotThrow(() => {
      refuseOtherNodesDir(config, []);
    });
  });
});
