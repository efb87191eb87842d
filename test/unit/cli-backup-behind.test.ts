/**
 * `distkv backup` and `distkv restore` against a shard whose leader started behind its replica
 * (an empty or older store: docs/failover.md, "A leader that starts behind its replica"). Such a
 * leader serves nothing of the shard, and its /cluster says so (`leader.behind`). The backup used
 * to copy its empty store as the shard ("0 keys at seq 0", consistent) and exit 0, so a restore of
 * that file had none of the shard's keys; a restore with --force wrote the other shards' keys, then
 * stopped at the first key of that shard. Now both refuse (exit 1, LEADER_BEHIND, naming the
 * failover that brings the shard back) before writing anything.
 * Twin: a one-shard node whose /cluster shows its leader behind replica R, serving an empty
 * snapshot (what a node without the server's own refusal streamed), a scan and batches.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeOneShardBackup } from '../helpers/one-shard-backup.js';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';
import { snapshotStream } from '../helpers/snapshot-stream.js';

const R = '127.0.0.1:2';
const dir = tempDir(after);
/** calls records each request to the twin as "METHOD path". */
const calls: string[] = [];
let twin: HandlerTwin;

before(async () => {
  twin = await startHandlerTwin((req, res) => {
    req.resume().on('end', () => {
      calls.push(`${req.method ?? ''} ${req.url?.split('?')[0] ?? ''}`);
      const json = (doc: unknown): void => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
      };
      if (req.url === '/cluster') {
        const view = JSON.parse(oneShardView(twin.address, 1, 0)) as {
          shards: { leader: Record<string, unknown>; replicas: unknown[] }[];
        };
        view.shards[0]!.leader.behind = { replica: R, replica_seq: 7, leader_seq: 0 };
        view.shards[0]!.replicas = [{ address: R, local: false }];
        json(view);
      } else if (req.url?.startsWith('/_repl/snapshot') === true) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(snapshotStream(0, []));
      } else if (req.url?.startsWith('/kv?') === true) json({ items: [], next: null });
      else if (req.url === '/kv/_batch') json({ results: [{ ok: true }], errors: 0 });
      else res.writeHead(404).end();
    });
  });
});

after(async () => {
  await twin.stop();
});

describe('a shard whose leader started behind its replica', () => {
  it('is not backed up as an empty shard: exit 1 LEADER_BEHIND, FILE not written', async () => {
    const file = join(dir, 'behind.dkv');
    const r = await runCli(['backup', file, '--url', twin.address]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /LEADER_BEHIND: shard 0 \(shard-0\) was not backed up/);
    assert.match(r.stderr, new RegExp(`distkv failover --shard shard-0 --to ${R}`));
    assert.match(r.stderr, /behind\.dkv was not written/);
    assert.equal(existsSync(file), false, 'no backup file');
    assert.equal(existsSync(`${file}.partial`), false, 'no partial file left');
  });

  it('is not restored into, even with --force: exit 1 LEADER_BEHIND before any write', async () => {
    const file = join(dir, 'one-key.dkv');
    writeOneShardBackup(file, [{ key: Buffer.from('k'), value: Buffer.from('v'), expiresAtMs: 0 }]);
    calls.length = 0;
    const r = await runCli(['restore', file, '--force', '--url', twin.address]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /LEADER_BEHIND: shard 0 \(shard-0\): its leader .* started behind its replica/);
    assert.match(r.stderr, new RegExp(`distkv failover --shard shard-0 --to ${R}`));
    assert.match(r.stderr, /nothing was written/);
    assert.deepEqual(
      calls.filter((c) => !c.startsWith('GET ')),
      [],
      'no write was sent',
    );
  });
});
