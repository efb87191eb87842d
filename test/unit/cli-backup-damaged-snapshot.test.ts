/**
 * `distkv backup` against a leader whose snapshot fails its crc32c (a bit changed on the way):
 * exit 1 CORRUPTION naming the shard, the node and what to do, FILE not written. It printed the
 * decoder's message alone ("distkv snapshot: its crc32c … does not match …"), naming neither the
 * shard nor the node; before the crc (snapshot version 4) the backup was written, its file's own
 * crc vouching for the flipped value. Twin: a one-shard node whose snapshot has one value byte flipped.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { snapshotStream } from '../helpers/snapshot-stream.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

const dir = tempDir(after);
let twin: HandlerTwin;

before(async () => {
  const snapshot = snapshotStream(3, [
    { key: Buffer.from('k'), value: Buffer.from('value-bytes'), expiresAtMs: 0 },
  ]);
  const at = snapshot.indexOf('value-bytes');
  assert.ok(at > 0, 'the value is in the stream');
  snapshot[at] = snapshot[at]! ^ 0x01; // a bit changed on the way
  twin = await startHandlerTwin((req, res) => {
    req.resume().on('end', () => {
      if (req.url === '/cluster') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(twin.address, 1, 3));
      } else if (req.url?.startsWith('/_repl/snapshot') === true) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(snapshot);
      } else res.writeHead(404).end();
    });
  });
});

after(async () => {
  await twin.stop();
});

describe('distkv backup of a snapshot that fails its crc32c', () => {
  it('names the shard and the node and says to run it again; FILE not written', async () => {
    const file = join(dir, 'damaged.dkv');
    const r = await runCli(['backup', file, '--url', twin.address]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `CORRUPTION: shard 0 \\(shard-0\\): its snapshot from http://${twin.address} is damaged \\(distkv snapshot: its crc32c`,
      ),
    );
    assert.match(r.stderr, /crc32c [0-9a-f]+ does not match/);
    assert.match(r.stderr, /a transfer or leader problem: run the backup again/);
    assert.match(r.stderr, /damaged\.dkv was not written/);
    assert.equal(existsSync(file), false, 'no backup file');
    assert.equal(existsSync(`${file}.partial`), false, 'no partial file left');
  });
});
