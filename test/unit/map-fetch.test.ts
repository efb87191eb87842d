/**
 * `distkv map fetch` (src/cli/map-command.ts) and `installLiveMap` (src/server/live-map-file.ts):
 * a node whose live-map.json is damaged refuses to start; the command writes a running peer's map
 * in its place, durably, after checking the peer's config and the map, and never replaces a valid
 * map of a higher version. Before, the only fix was a hand copy of the peer's `GET /cluster` map.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load-config.js';
import { nextEpoch } from '../../src/routing/epoch-numbers.js';
import { initialLiveMap, type LiveMap, promotedMap } from '../../src/routing/live-map.js';
import { topologyHash } from '../../src/routing/shard-map.js';
import { installLiveMap, LIVE_MAP_FILE, loadLiveMap, saveLiveMap } from '../../src/server/live-map-file.js';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const CONFIG_FILE = fileURLToPath(new URL('../../../config/default.toml', import.meta.url));
const config = loadConfig(CONFIG_FILE, {}, {});
const base = initialLiveMap(config.shards);
const s0 = base.shards[0]!;
/** peerMap is the map of a cluster whose shard-0 failed over once: version 2. */
const peerMap: LiveMap = promotedMap(base, 0, s0.replicas[0]!, nextEpoch(s0, s0.replicas[0]!), 41);

/** dirsIn makes fresh directories inside one temp dir that the calling describe removes after. */
function dirsIn(prefix: string): { make: () => string } {
  const root = tempDir(after, prefix);
  return { make: () => mkdtempSync(join(root, 'd-')) };
}

describe('installLiveMap', () => {
  const dirs = dirsIn('distkv-map-fetch-');

  it('replaces a damaged file, a missing one and an older map', () => {
    for (const prepare of [
      (d: string) => {
        writeFileSync(join(d, LIVE_MAP_FILE), '{"version": 3, "shards": [');
      },
      () => undefined,
      (d: string) => {
        saveLiveMap(d, base);
      },
    ]) {
      const d = dirs.make();
      prepare(d);
      const r = installLiveMap(d, config.shards, JSON.parse(JSON.stringify(peerMap)));
      assert.equal(r.written, true);
      assert.deepEqual(loadLiveMap(d, config.shards), peerMap);
    }
  });

  it('leaves the same map, and refuses to replace a newer one or another of its version', () => {
    const d = dirs.make();
    saveLiveMap(d, peerMap);
    assert.equal(installLiveMap(d, config.shards, peerMap).written, false);
    const newer = promotedMap(peerMap, 1, base.shards[1]!.replicas[0]!, 130, 7);
    saveLiveMap(d, newer);
    assert.throws(() => installLiveMap(d, config.shards, peerMap), {
      code: 'INVALID_ARGUMENT',
      message: /version 3, newer than the fetched version 2: left alone/,
    });
    const apart = promotedMap(base, 1, base.shards[1]!.replicas[0]!, 65, 9);
    saveLiveMap(d, apart);
    assert.throws(() => installLiveMap(d, config.shards, peerMap), /at the same version as/);
    assert.deepEqual(loadLiveMap(d, config.shards), apart, 'the file is left alone');
  });

  it('refuses a map that is not valid for the config', () => {
    const d = dirs.make();
    const bad = { ...peerMap, shards: peerMap.shards.map((s) => ({ ...s, history: [] })) };
    assert.throws(() => installLiveMap(d, config.shards, bad), { code: 'INVALID_ARGUMENT' });
  });
});

describe('distkv map fetch', () => {
  const dirs = dirsIn('distkv-map-fetch-cli-');
  let peer: Server;
  let addr = '';
  let hash = topologyHash(config.shards);
  /** body, when set, is what the peer answers in place of its document. */
  let body: string | undefined;
  before(async () => {
    peer = createServer((req, res) => {
      if (req.url !== '/cluster') res.writeHead(404).end();
      else
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(body ?? JSON.stringify({ version: hash, map_version: peerMap.version, map: peerMap }));
    });
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    addr = `127.0.0.1:${(peer.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => peer.close(r));
  });

  it("writes the peer's map over a damaged file, and says what it held", async () => {
    const d = dirs.make();
    writeFileSync(join(d, LIVE_MAP_FILE), 'not json');
    const r = await runCli(['map', 'fetch', '--from', addr, '--config', CONFIG_FILE, '--data-dir', d]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /wrote live map version 2 from http:\/\/127\.0\.0\.1:\d+ to .* \(it held: damaged/,
    );
    assert.deepEqual(JSON.parse(readFileSync(join(d, LIVE_MAP_FILE), 'utf8')), peerMap);
  });

  it('refuses a peer of another config, and answers --help', async () => {
    hash = 'another';
    try {
      const d = dirs.make();
      const r = await runCli(['map', 'fetch', '--from', addr, '--config', CONFIG_FILE, '--data-dir', d]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /CONFIG_MISMATCH: .* routes with config another/);
    } finally {
      hash = topologyHash(config.shards);
    }
    const help = await runCli(['map', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: distkv map fetch --from ADDR/);
    const missing = await runCli(['map', 'fetch']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing --from ADDR/);
  });

  it('refuses a peer whose answer is JSON but not a document, saying so', async () => {
    for (const b of ['null', '[1]', '"x"'])
      try {
        body = b;
        const d = dirs.make();
        const r = await runCli(['map', 'fetch', '--from', addr, '--config', CONFIG_FILE, '--data-dir', d]);
        assert.equal(r.code, 1, `${b}: ${r.stderr}`);
        assert.match(
          r.stderr,
          /SHARD_UNREACHABLE: .* answered GET \/cluster with JSON that is not a document/,
          b,
        );
      } finally {
        body = undefined;
      }
  });
});
