/**
 * writeOneShardBackup writes a backup file (src/cli/backup-format.ts) of one consistent shard,
 * shard-0 of config "cfg", holding `entries` in order (seqs 1..n): the file `distkv restore` reads,
 * for tests that restore into a twin of a node (test/helpers/twin-server.ts).
 */
import { writeFileSync } from 'node:fs';
import { Crc, encodeBackupHeader, encodeEnd, encodeSectionHeader } from '../../src/cli/backup-format.js';
import { snapshotStream } from './snapshot-stream.js';

/** BackupEntryIn is a key of the backup with its value and expiry (Unix ms, 0 = never). */
export interface BackupEntryIn {
  key: Buffer;
  value: Buffer;
  expiresAtMs: number;
}

export function writeOneShardBackup(file: string, entries: readonly BackupEntryIn[]): void {
  const seq = entries.length;
  const parts = [
    encodeBackupHeader(),
    encodeSectionHeader(0, true),
    snapshotStream(
      seq,
      entries.map((e, i) => ({ ...e, seq: i + 1 })),
    ),
    encodeEnd({
      created: new Date().toISOString(),
      source: 'twin',
      topology: 'cfg',
      shards: [{ idx: 0, name: 'shard-0', seq, keys: entries.length, consistent: true }],
    }),
  ];
  const crc = new Crc();
  for (const p of parts) crc.add(p);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(crc.value, 0);
  writeFileSync(file, Buffer.concat([...parts, tail]));
}
