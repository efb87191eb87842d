/**
 * `distkv diverged` decoding and printing over divergence files in the real WAL record framing
 * (encodeRecord): a non-UTF-8 key, a 1 MiB value, a TTL record, a delete, an expire, a truncated file.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  notDivergedFile,
  readDivergedBytes,
  recordJson,
  recordLine,
  summaryLine,
} from '../../src/cli/diverged-read.js';
import {
  encodeHeader,
  encodeRecord,
  type RecordType,
  recordSize,
  TYPE_DELETE,
  TYPE_EXPIRE,
  TYPE_PUT,
  TYPE_PUT_TTL,
} from '../../src/storage/wal-format.js';
import { divergedFileOf, saveForkRecords } from '../../src/replication/diverged-file.js';
import { tempDir } from '../helpers/temp-dir.js';

interface Rec {
  type: RecordType;
  seq: number;
  key: Buffer;
  value?: Buffer;
  expiresAtMs?: number;
}

function fileOf(records: Rec[]): Buffer {
  const parts = records.map((r) => {
    const b = Buffer.alloc(recordSize(r.key.length, r.value?.length ?? 0, r.type));
    encodeRecord(b, 0, r.type, r.seq, r.key, r.value, r.expiresAtMs);
    return b;
  });
  return Buffer.concat(parts);
}

const BIG = Buffer.alloc(1024 * 1024, 0x61);
const EXPIRY = Date.UTC(2026, 0, 2, 3, 4, 5);
const RECORDS: Rec[] = [
  { type: TYPE_PUT, seq: 11, key: Buffer.from([0xff, 0x00, 0x41]), value: Buffer.from('v1') },
  { type: TYPE_PUT, seq: 12, key: Buffer.from('big'), value: BIG },
  { type: TYPE_PUT_TTL, seq: 13, key: Buffer.from('ttl'), value: Buffer.from('soon'), expiresAtMs: EXPIRY },
  { type: TYPE_DELETE, seq: 14, key: Buffer.from('gone') },
  { type: TYPE_EXPIRE, seq: 15, key: Buffer.from('old') },
];
const NAME = '/d/n1/s0.diverged-7-11-15.log';

describe('distkv diverged: reading a divergence file', () => {
  it('decodes every record and prints keys and values safely, long values cut', () => {
    const read = readDivergedBytes(fileOf(RECORDS));
    assert.equal(read.damage, undefined);
    assert.deepEqual(
      read.records.map((r) => recordLine(r)),
      [
        '11\tput\t"\\xff\\x00A"\tv1',
        `12\tput\tbig\t${'a'.repeat(64)}… (1048576 bytes)`,
        '13\tput-ttl\tttl\tsoon\texpires 2026-01-02T03:04:05.000Z',
        '14\tdelete\tgone',
        '15\texpire\told',
      ],
    );
    assert.equal(summaryLine(NAME, read), `${NAME}: 5 records, seq 11..15, forked by epoch 7`);
  });

  it('gives JSON with key and value as text when valid UTF-8, else as base64', () => {
    const [a, big, ttl, del] = readDivergedBytes(fileOf(RECORDS)).records.map((r) => recordJson(r));
    assert.deepEqual(a, { seq: 11, type: 'put', key_base64: '/wBB', value: 'v1' });
    assert.equal((big as { value: string }).value.length, 1024 * 1024);
    assert.deepEqual(ttl, { seq: 13, type: 'put-ttl', key: 'ttl', value: 'soon', expires_at_ms: EXPIRY });
    assert.deepEqual(del, { seq: 14, type: 'delete', key: 'gone' });
  });

  it('a truncated file gives the records before the cut and the offset of the cut', () => {
    const whole = fileOf(RECORDS.slice(0, 3));
    const cut = whole.subarray(0, whole.length - 3);
    const read = readDivergedBytes(cut);
    assert.deepEqual(
      read.records.map((r) => r.seq),
      [11, 12],
    );
    assert.equal(read.damage?.offset, read.records[0]!.size + read.records[1]!.size);
    assert.match(read.damage.reason, /truncated/);
  });

  it('a damaged byte is named by the offset of its record', () => {
    const b = Buffer.from(fileOf(RECORDS.slice(0, 1)));
    const bad = Buffer.concat([b, b]);
    bad[b.length + 20] = bad[b.length + 20]! ^ 0xff;
    const read = readDivergedBytes(bad);
    assert.equal(read.records.length, 1);
    assert.deepEqual(read.damage, { offset: b.length, reason: 'checksum mismatch' });
  });

  it('tells a file that is no divergence file', () => {
    assert.equal(notDivergedFile(NAME, fileOf(RECORDS)), undefined);
    assert.match(notDivergedFile('/d/notes.txt', Buffer.from('hi'))!, /not a divergence file/);
    assert.match(notDivergedFile(NAME, encodeHeader(1, 0, 1))!, /WAL segment/);
  });

  it('reads back what saveForkRecords wrote, the epoch from its name', async () => {
    const bytes = fileOf(RECORDS);
    // A store whose log holds RECORDS (seqs 11..15) above the fork at 10, read in one piece.
    const store = {
      lastSeq: () => 15,
      readLog: () => ({ records: bytes, lastSeq: 15, end: 16 }),
      scan: () => [],
    };
    const dir = join(tempDir(after), 's0');
    const { file } = await saveForkRecords(store, divergedFileOf(dir, 7, 11, 15), 10);
    const written = readFileSync(file);
    assert.equal(notDivergedFile(file, written), undefined);
    const read = readDivergedBytes(written);
    assert.equal(read.damage, undefined);
    assert.deepEqual(
      read.records.map((r) => recordJson(r).type),
      ['put', 'put', 'put-ttl', 'delete', 'expire'],
    );
    assert.equal(summaryLine(file, read), `${file}: 5 records, seq 11..15, forked by epoch 7`);
  });
});
