/**
 * `distkv map fetch --from` a node (a fake node: a node:http server on loopback) whose `/cluster`
 * answer is larger than any node's (CLUSTER_DOC_BYTES): refused once it passes the cap (a
 * `Content-Length` that claims more, unread), exit 1 naming the node and the bound, nothing
 * written. Before, `res.text()` gathered whatever came within the timeout and wrote its map.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load-config.js';
import { initialLiveMap } from '../../src/routing/live-map.js';
import { topologyHash } from '../../src/routing/shard-map.js';
import { LIVE_MAP_FILE } from '../../src/server/live-map-file.js';
import { CLUSTER_DOC_BYTES } from '../../src/util/peer-answer.js';
import { FakePeers, writeInMiBs } from '../helpers/fake-peer.js';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const CONFIG_FILE = fileURLToPath(new URL('../../../config/default.toml', import.meta.url));
const config = loadConfig(CONFIG_FILE, {}, {});
const peers = new FakePeers();

describe('distkv map fetch from a node whose /cluster is too large', () => {
  const root = tempDir(after, 'distkv-hostile-map-fetch-');
  for (const chunked of [false, true])
    it(`refuses ${chunked ? 'a chunked body past' : 'a Content-Length over'} the cap and writes nothing`, async () => {
      const map = initialLiveMap(config.shards);
      const doc = Buffer.from(
        JSON.stringify({
          version: topologyHash(config.shards),
          map_version: map.version,
          map,
          pad: 'x'.repeat(CLUSTER_DOC_BYTES),
        }),
      );
      const addr = await peers.start((_req, res) => {
        res.setHeader('content-type', 'application/json');
        if (chunked) writeInMiBs(res, doc);
        else res.end(doc);
      });
      try {
        const r = await runCli(['map', 'fetch', '--from', addr, '--config', CONFIG_FILE, '--data-dir', root]);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(
          r.stderr,
          chunked
            ? new RegExp(`http://${addr} answered GET /cluster: the body passed ${CLUSTER_DOC_BYTES} bytes`)
            : new RegExp(
                `http://${addr} answered GET /cluster: Content-Length \\d+ is more than the ${CLUSTER_DOC_BYTES} bytes`,
              ),
        );
        assert.equal(existsSync(join(root, LIVE_MAP_FILE)), false, 'nothing written');
      } finally {
        await peers.close();
      }
    });
});
