/**
 * `distkv set KEY VALUE --expires-at T` with T already past: the node deletes the key (docs/api.md,
 * "TTL") and answers as for any put (204, the delete's seq and version), so the CLI printed
 * "OK (seq …)" as if the key had been written. It now says the key was deleted, and --json
 * carries "deleted": true; a future expiry prints the plain OK.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startRecordingTwin } from '../helpers/twin-server.js';

let node: HandlerTwin;
let sent: string[];

before(async () => {
  ({ node, sent } = await startRecordingTwin({ etag: '"3.7"', 'x-distkv-seq': '7' }));
});

after(async () => {
  await node.stop();
});

describe('distkv set --expires-at in the past', () => {
  it('says the key was deleted, naming the expiry', async () => {
    sent.length = 0;
    const r = await runCli(['set', 'k', 'v', '--expires-at', '1', '--url', node.address]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(sent, ['PUT /kv/k?expires_at_ms=1']);
    assert.equal(
      r.stdout,
      'OK: the expiry (--expires-at 1) is past, so key "k" was deleted (seq 7, version 3.7)\n',
    );
  });

  it('says so in --json too', async () => {
    const r = await runCli(['set', 'k', 'v', '--expires-at', '1000', '--json', '--url', node.address]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { key: 'k', seq: 7, version: '3.7', deleted: true });
  });

  it('prints the plain OK for an expiry ahead', async () => {
    const at = Date.now() + 3_600_000;
    const r = await runCli(['set', 'k', 'v', '--expires-at', String(at), '--url', node.address]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'OK (seq 7, version 3.7)\n');
    const j = await runCli(['set', 'k', 'v', '--ttl', '1000', '--json', '--url', node.address]);
    assert.deepEqual(JSON.parse(j.stdout), { key: 'k', seq: 7, version: '3.7' });
  });
});
