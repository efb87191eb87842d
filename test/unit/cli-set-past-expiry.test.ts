/**
 * `distkv set KEY VALUE --expires-at T` (or `--ttl`) whose expiry the node found already past: the
 * node writes a delete and says so with `X-Distkv-Deleted: 1` (docs/api.md, "TTL"); the CLI then
 * says the key was deleted, and --json carries "deleted": true. It goes by the node's answer, not
 * by its own clock, which may differ from the node's: a node that wrote the key (no header) gets
 * the plain OK even for an instant this machine thinks is past, and one that deleted the key gets
 * "deleted" even for an instant this machine thinks is ahead.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startRecordingTwin } from '../helpers/twin-server.js';

let deleting: HandlerTwin;
let writing: HandlerTwin;
let sent: string[];

before(async () => {
  ({ node: deleting, sent } = await startRecordingTwin({
    etag: '"3.7"',
    'x-distkv-seq': '7',
    'x-distkv-deleted': '1',
  }));
  ({ node: writing } = await startRecordingTwin({ etag: '"3.8"', 'x-distkv-seq': '8' }));
});

after(async () => {
  await deleting.stop();
  await writing.stop();
});

describe('distkv set whose expiry the node found past', () => {
  it('says the key was deleted, naming the expiry', async () => {
    sent.length = 0;
    const r = await runCli(['set', 'k', 'v', '--expires-at', '1', '--url', deleting.address]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(sent, ['PUT /kv/k?expires_at_ms=1']);
    assert.equal(
      r.stdout,
      'OK: the expiry (--expires-at 1) is past, so key "k" was deleted (seq 7, version 3.7)\n',
    );
  });

  it('says so in --json too', async () => {
    const r = await runCli(['set', 'k', 'v', '--expires-at', '1000', '--json', '--url', deleting.address]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { key: 'k', seq: 7, version: '3.7', deleted: true });
  });

  it("believes the node, whose clock is ahead of this machine's", async () => {
    const at = Date.now() + 3_600_000;
    const r = await runCli(['set', 'k', 'v', '--expires-at', String(at), '--url', deleting.address]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `OK: the expiry (--expires-at ${at}) is past, so key "k" was deleted (seq 7, version 3.7)\n`,
    );
    const t = await runCli(['set', 'k', 'v', '--ttl', '1000', '--url', deleting.address]);
    assert.equal(
      t.stdout,
      'OK: the expiry (--ttl 1000) is past, so key "k" was deleted (seq 7, version 3.7)\n',
    );
  });

  it('prints the plain OK when the node wrote the key, whatever this clock says', async () => {
    const r = await runCli(['set', 'k', 'v', '--expires-at', '1', '--url', writing.address]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'OK (seq 8, version 3.8)\n');
    const j = await runCli(['set', 'k', 'v', '--ttl', '1000', '--json', '--url', writing.address]);
    assert.deepEqual(JSON.parse(j.stdout), { key: 'k', seq: 8, version: '3.8' });
  });
});
