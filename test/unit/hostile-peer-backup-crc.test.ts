/**
 * Restores and the snapshot crc (src/replication/snapshot-format.ts, version 4;
 * docs/backup-format.md): `distkv restore` checks each section's crc before it writes anything,
 * though the file's own crc holds. A file made by an older build (snapshot version 3, no crc)
 * still restores. (`distkv backup` refusing a leader's snapshot whose crc fails, instead of writing
 * it into a file whose own crc then vouches for it: cli-backup-damaged-snapshot.test.ts.)
 * Twin: a one-shard node serving `/cluster`, an empty scan and one-key batches.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Crc, encodeBackupHeader, encodeEnd, encodeSectionHeader } from '../../src/cli/backup-format.js';
import {
  encodeSnapshotEntries,
  encodeSnapshotExactSeq,
  encodeSnapshotHeader,
} from '../../src/replication/snapshot-format.js';
import { runCli } from '../helpers/server-process.js';
import { snapshotStream } from '../helpers/snapshot-stream.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

const dir = tempDir(after);
/** writes records each batch the twin got. */
const writes: string[] = [];
let twin: HandlerTwin;
const ENTRY = { key: Buffer.from('k'), value: Buffer.from('value-1'), seq: 1 };

/** flipped is a one-key snapshot with a bit of its value flipped after its crc was taken. */
function flipped(): Buffer {
  const s = snapshotStream(1, [ENTRY]);
  s[s.length - 15] = s[s.length - 15]! ^ 0x02;
  return s;
}

/** backupFile writes a one-shard backup holding `snapshot` as its section, with a good file crc. */
function backupFile(name: string, snapshot: Buffer): string {
  const parts = [
    encodeBackupHeader(),
    encodeSectionHeader(0, true),
    snapshot,
    encodeEnd({
      created: new Date().toISOString(),
      source: 'twin',
      topology: 'cfg',
      shards: [{ idx: 0, name: 'shard-0', seq: 1, keys: 1, consistent: true }],
    }),
  ];
  const crc = new Crc();
  for (const p of parts) crc.add(p);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(crc.value, 0);
  const file = join(dir, name);
  writeFileSync(file, Buffer.concat([...parts, tail]));
  return file;
}

before(async () => {
  twin = await startHandlerTwin((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const json = (doc: unknown): void => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
      };
      if (req.url === '/cluster') json(JSON.parse(oneShardView(twin.address, 1, 1)));
      else if (req.url?.startsWith('/kv?') === true) json({ items: [], next: null });
      else if (req.url === '/kv/_batch') {
        writes.push(Buffer.concat(chunks).toString('utf8'));
        json({ results: [{ ok: true }], errors: 0 });
      } else res.writeHead(404).end();
    });
  });
});

after(async () => {
  await twin.stop();
});

describe('a restore', () => {
  it('refuses a section whose snapshot crc fails though the file crc holds: exit 2, nothing written', async () => {
    writes.length = 0;
    const file = backupFile('section-flipped.dkv', flipped());
    const r = await runCli(['restore', file, '--url', twin.address]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /not a usable backup: the snapshot of shard 0 does not match its crc32c/);
    assert.deepEqual(writes, [], 'a batch was written');
  });

  it('restores a file of an older build (snapshot version 3, no crc)', async () => {
    writes.length = 0;
    const header = encodeSnapshotHeader(1);
    header[4] = 3;
    const v3 = Buffer.concat([header, encodeSnapshotEntries([ENTRY], true), encodeSnapshotExactSeq(1)]);
    const r = await runCli(['restore', backupFile('v3.dkv', v3), '--url', twin.address]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(writes.length, 1, r.stdout + r.stderr);
    assert.match(writes[0]!, /"k"/);
  });
});
