/**
 * Reading a divergence file (src/replication/diverged-file.ts, docs/failover.md "Divergence files")
 * for `distkv diverged`: its records in WAL record framing (docs/wal-format.md, no segment header;
 * a `.keys-<count>` file holds put records only, one per key: diverged-scan.ts), and how each
 * prints for people (one tab-separated line, bytes shown safely, long values cut) or as one JSON
 * object.
 */
import { basename } from 'node:path';
import { type DivergedName, parseDivergedName } from '../replication/diverged-file.js';
import {
  decodeRecord,
  type DecodedRecord,
  TYPE_DELETE,
  TYPE_EXPIRE,
  TYPE_PUT,
  TYPE_PUT_TTL,
  WAL_MAGIC,
} from '../storage/wal-format.js';
import { plural } from '../util/plural.js';
import { displayBytes, jsonValue } from './output.js';

/** SHOWN_VALUE_BYTES: a longer value prints its first bytes and its size. */
export const SHOWN_VALUE_BYTES = 64;

const TYPE_NAMES: Record<number, string> = {
  [TYPE_PUT]: 'put',
  [TYPE_DELETE]: 'delete',
  [TYPE_PUT_TTL]: 'put-ttl',
  [TYPE_EXPIRE]: 'expire',
};

/** DivergedRead is what a divergence file's bytes decode to: its records, and where decoding stopped if not at its end. */
export interface DivergedRead {
  records: DecodedRecord[];
  damage?: { offset: number; reason: string };
}

/** readDivergedBytes decodes every record of a divergence file, stopping at the first that does not decode. */
export function readDivergedBytes(b: Buffer): DivergedRead {
  const records: DecodedRecord[] = [];
  for (let offset = 0; offset < b.length;) {
    const r = decodeRecord(b, offset);
    if (typeof r === 'string') {
      const reason = r === 'short' ? `truncated: the file ends inside a record (${b.length} bytes)` : r;
      return { records, damage: { offset, reason } };
    }
    records.push(r);
    offset += r.size;
  }
  records.sort((x, y) => x.seq - y.seq);
  return { records };
}

/**
 * notDivergedFile says why the file `path` holding `b` is no divergence file (its name is not one
 * saveForkRecords writes, or it is a WAL segment), or returns undefined when it may be one.
 */
export function notDivergedFile(path: string, b: Buffer): string | undefined {
  if (b.length >= 4 && b.readUInt32LE(0) === WAL_MAGIC)
    return `${path} is a WAL segment (it has a segment header), not a divergence file`;
  if (divergedNameOf(path) === undefined)
    return `${path} is not a divergence file: its name is not <store dir>.diverged-<epoch>-<first>-<last>[.keys-<count>][.<n>].log`;
  return undefined;
}

/** divergedNameOf reads what a divergence file's name says (parseDivergedName): the epoch that forked, its range, whether it holds keys. */
export function divergedNameOf(path: string): DivergedName | undefined {
  const name = basename(path);
  const m = /^(.*)\.diverged-/.exec(name);
  return m === null ? undefined : parseDivergedName(m[1]!, name);
}

/**
 * lackOfName says how the records of a divergence file (in seq order, as readDivergedBytes gives
 * them) differ from what its name says, or returns undefined when they are what it says. A file
 * from the log holds each seq of its range once: the first missing seq is named. A keys file
 * (`.keys-<count>`) holds `count` records, each under a seq of its range (or 0, a key of unknown
 * version, when the range starts at 1: a fork at 0 saves every live key: diverged-scan.ts): how
 * many of them are missing is named. The file is written whole (as `.partial`, then renamed), so
 * either means it was cut short or changed since: a copy that ends between two records, or an
 * emptied file, decodes without damage (`/stats` counts its records from the name all the same).
 */
export function lackOfName(name: DivergedName, records: readonly DecodedRecord[]): string | undefined {
  const range = `seq ${name.first}..${name.last}`;
  const inRange = (seq: number): boolean =>
    (seq >= name.first && seq <= name.last) || (name.keys && seq === 0 && name.first === 1);
  const problems: string[] = [];
  if (name.keys) {
    const n = records.length;
    const says = `the ${plural(name.records, 'record')} its name says (.keys-${name.records})`;
    if (n < name.records) problems.push(`it lacks ${name.records - n} of ${says}`);
    if (n > name.records) problems.push(`it holds ${plural(n, 'record')}, more than ${says}`);
  } else {
    const missing = firstMissing(name, records);
    const held = records.filter(
      (r, i) => inRange(r.seq) && (i === 0 || records[i - 1]!.seq !== r.seq),
    ).length;
    if (missing !== undefined)
      problems.push(
        `seq ${missing} is missing (it lacks ${name.records - held} of the ${plural(name.records, 'record')} of ${range} its name says)`,
      );
    const twice = records.find((r, i) => i > 0 && records[i - 1]!.seq === r.seq);
    if (twice !== undefined) problems.push(`it holds seq ${twice.seq} twice`);
  }
  const outside = records.find((r) => !inRange(r.seq));
  if (outside !== undefined) problems.push(`it holds seq ${outside.seq}, outside the ${range} its name says`);
  return problems.length === 0 ? undefined : problems.join('; ');
}

/** firstMissing is the first seq of a log file's range that none of its records (in seq order) has. */
function firstMissing(name: DivergedName, records: readonly DecodedRecord[]): number | undefined {
  let next = name.first;
  for (const r of records) {
    if (r.seq > next) break;
    if (r.seq === next) next++;
  }
  return next <= name.last ? next : undefined;
}

/** divergedEpochOf reads the epoch from a divergence file's name. */
export function divergedEpochOf(path: string): number | undefined {
  return divergedNameOf(path)?.epoch;
}

/** typeName is the record type as printed: put, delete, put-ttl or expire. */
export function typeName(r: DecodedRecord): string {
  return TYPE_NAMES[r.type]!;
}

/** recordLine prints a record for people: seq, type, key, value (cut past SHOWN_VALUE_BYTES), expiry, tab-separated. */
export function recordLine(r: DecodedRecord): string {
  const cells = [String(r.seq), typeName(r), displayBytes(r.key)];
  if (r.type === TYPE_PUT || r.type === TYPE_PUT_TTL) cells.push(shownValue(r.value));
  if (r.type === TYPE_PUT_TTL) cells.push(`expires ${new Date(r.expiresAtMs).toISOString()}`);
  return cells.join('\t');
}

function shownValue(value: Buffer): string {
  if (value.length <= SHOWN_VALUE_BYTES) return displayBytes(value);
  return `${displayBytes(value.subarray(0, SHOWN_VALUE_BYTES))}… (${value.length} bytes)`;
}

/**
 * recordJson is a record as one JSON object: `key` / `value` as UTF-8 text when valid, else
 * `key_base64` / `value_base64`; `expires_at_ms` for a put-ttl.
 */
export function recordJson(r: DecodedRecord): Record<string, unknown> {
  const key = jsonValue(r.key);
  return {
    seq: r.seq,
    type: typeName(r),
    ...('value' in key ? { key: key.value } : { key_base64: key.value_base64 }),
    ...(r.type === TYPE_PUT || r.type === TYPE_PUT_TTL ? jsonValue(r.value) : {}),
    ...(r.type === TYPE_PUT_TTL ? { expires_at_ms: r.expiresAtMs } : {}),
  };
}

/**
 * summaryLine is the last line for a file: its records, their seq range and the epoch that forked;
 * for a file of keys (`.keys-<count>`: the store's log no longer held the range), that it holds each
 * key's last value and none of the range's deletes.
 */
export function summaryLine(path: string, read: DivergedRead): string {
  const n = read.records.length;
  const range = n === 0 ? 'none' : `seq ${read.records[0]!.seq}..${read.records[n - 1]!.seq}`;
  const name = divergedNameOf(path);
  const line = `${path}: ${plural(n, 'record')}, ${range}, forked by epoch ${name?.epoch ?? '?'}`;
  if (name?.keys !== true) return line;
  return `${line}; the store's keys last written in seq ${name.first}..${name.last}, each with its last value (its log no longer held that range: what it deleted there is not in this file)`;
}
