/**
 * Backup files built part by part for tests of what `distkv restore` makes of them
 * (src/cli/backup-format.ts, docs/backup-format.md): shard sections of given keys, an end whose
 * summary is any JSON (or any bytes), bytes after it, and the file's crc over all of it, as a
 * file edited or put together by hand would have it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Crc, encodeBackupHeader, encodeSectionHeader, TAG_END } from '../../src/cli/backup-format.js';
import { openBackup } from '../../src/cli/restore-file.js';
import { snapshotStream } from './snapshot-stream.js';

/** PartSection is a shard section: its shard, its keys (each valued `v-KEY`) and its consistent flag (true by default). */
export interface PartSection {
  idx: number;
  keys: string[];
  consistent?: boolean;
}

/**
 * writeBackupParts writes `dir`/`name`: a backup holding `sections` whose end holds `meta` (as
 * JSON, or a Buffer as it is), then `extra`, then the crc of all of it. Returns its path.
 */
export function writeBackupParts(
  dir: string,
  name: string,
  sections: readonly PartSection[],
  meta: unknown,
  extra: Uint8Array = new Uint8Array(0),
): string {
  const parts: Buffer[] = [encodeBackupHeader()];
  for (const s of sections) {
    parts.push(encodeSectionHeader(s.idx, s.consistent ?? true));
    parts.push(
      snapshotStream(
        s.keys.length,
        s.keys.map((k, i) => ({
          key: Buffer.from(k),
          value: Buffer.from(`v-${k}`),
          seq: i + 1,
          expiresAtMs: 0,
        })),
      ),
    );
  }
  const json = Buffer.isBuffer(meta) ? meta : Buffer.from(JSON.stringify(meta));
  const end = Buffer.alloc(5);
  end[0] = TAG_END;
  end.writeUInt32LE(json.length, 1);
  parts.push(end, json, Buffer.from(extra));
  const crc = new Crc();
  for (const p of parts) crc.add(p);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(crc.value, 0);
  const file = join(dir, name);
  writeFileSync(file, Buffer.concat([...parts, tail]));
  return file;
}

/** summaryOf is a summary as distkv backup writes it, listing `shards` (idx, keys, consistent: true by default). */
export function summaryOf(shards: readonly { idx: number; keys: number; consistent?: boolean }[]): unknown {
  return {
    created: '2026-12-01T00:00:00.000Z',
    source: 'http://127.0.0.1:1',
    topology: 'cfg',
    shards: shards.map((s) => ({
      idx: s.idx,
      name: `shard-${s.idx}`,
      seq: s.keys,
      keys: s.keys,
      consistent: s.consistent ?? true,
    })),
  };
}

/** refusalOf is why restore's check of FILE (openBackup) refuses `file`, or undefined when it takes it. */
export async function refusalOf(file: string): Promise<string | undefined> {
  try {
    const b = await openBackup(file);
    await b.fh.close();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
