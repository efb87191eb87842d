/**
 * `distkv map fetch --data-dir DIR` refuses a DIR that is no node's data directory, recognised by
 * its LOCK, its live-map.json or a store directory `<node>/<shard>`. A node on the memory engine
 * leaves none of them once stopped: it writes no store, and its lock goes with the stop, so its
 * data directory is empty until a failover gives it a live-map.json (and empty again once the
 * operator moves a wrong one aside, as the refusal of a peer's map tells them to before running
 * `map fetch`). Such a node's own data directory must take a running peer's map, not be called
 * "not a distkv data directory".
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LIVE_MAP_FILE } from '../../src/server/live-map-file.js';
import { freePort } from '../helpers/ports.js';
import { nodesFixture, runCli, startConfigNode, writeConfig } from '../helpers/server-process.js';

describe('distkv map fetch into a memory-engine node', () => {
  const { dir, running } = nodesFixture(after, 'distkv-map-fetch-memory-');

  it("writes a peer's map into the data directory a stopped memory-engine node left", async () => {
    const a = `127.0.0.1:${await freePort()}`;
    const b = `127.0.0.1:${await freePort()}`;
    const config = writeConfig(dir, [{ address: a, replicas: [b] }]);
    const dataA = join(dir, 'data-a');
    const dataB = join(dir, 'data-b');
    await startConfigNode(config, a, dataA, running, ['--engine', 'memory']);
    const nodeB = await startConfigNode(config, b, dataB, running, ['--engine', 'memory']);
    assert.equal(await nodeB.stop(), 0, nodeB.stderr);
    assert.equal(existsSync(dataB), true, 'the node made its data directory');

    const r = await runCli(['map', 'fetch', '--from', a, '--config', config, '--data-dir', dataB]);
    assert.equal(r.code, 0, r.stderr);
    const written = JSON.parse(readFileSync(join(dataB, LIVE_MAP_FILE), 'utf8')) as { version: number };
    assert.equal(typeof written.version, 'number');
  });
});
