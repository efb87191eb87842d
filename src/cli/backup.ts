/**
 * `distkv backup FILE` and `distkv restore FILE` (docs/operations.md, "Backup and restore").
 *
 * backup copies every shard from its leader with `GET /_repl/snapshot` (the stream a new replica
 * loads; needs the token when one is set) into FILE (backup-format.ts). A snapshot starts at the
 * leader's last seq S and is read while writes go on, so after each shard the leader's last seq is
 * read again: unchanged means the copy is exactly the shard at S ("consistent"); otherwise the shard
 * is copied again, up to --retries times. A shard that never holds still fails the backup unless
 * --allow-fuzzy. The file is written as FILE.partial and renamed when whole.
 *
 * restore checks the file's crc and parses it whole before it writes anything, refuses a cluster that already holds keys (unless --force),
 * then writes every entry through the client library's batch(), which routes each key to its
 * shard in the target cluster (its layout may differ from the source's).
 */
import { type FileHandle, link, open, rename, rm, stat } from 'node:fs/promises';
import { Agent, request } from 'undici';
import { errorOf } from '../client/wire-decode.js';
import type { BatchOp } from '../client/types.js';
import { DistkvError } from '../errors.js';
import {
  checkSnapshotHeader,
  decodeEntryHead,
  entryHeadBytes,
  SNAPSHOT_EXACT_SEQ_BYTES,
  SNAPSHOT_HEADER_BYTES,
  SnapshotDecoder,
} from '../replication/snapshot-format.js';
import { intOption, UsageError } from './args.js';
import {
  BACKUP_HEADER_BYTES,
  type BackupMeta,
  type BackupShardMeta,
  checkBackupHeader,
  Crc,
  encodeBackupHeader,
  encodeEnd,
  encodeSectionHeader,
  SECTION_HEADER_BYTES,
  TAG_END,
  TAG_SHARD,
} from './backup-format.js';
import { type ClientVerb, positionals } from './connect.js';
import { fileProblem } from './files.js';
import { stderrProgress } from './progress-line.js';
import { removeFile, whileInterruptible } from './interrupt.js';

const DEFAULT_RETRIES = 3;
const READ_CHUNK = 1024 * 1024;
/** RESTORE_BATCH_OPS is how many entries restore hands batch() at a time. */
const RESTORE_BATCH_OPS = 1000;

/** FileSink appends to a file at tracked positions, so a shard's section can be cut off and rewritten. */
class FileSink {
  position = 0;
  private readonly fh: FileHandle;

  constructor(fh: FileHandle) {
    this.fh = fh;
  }

  async write(bytes: Uint8Array): Promise<void> {
    await this.fh.write(bytes, 0, bytes.length, this.position);
    this.position += bytes.length;
  }

  async cut(position: number): Promise<void> {
    await this.fh.truncate(position);
    this.position = position;
  }
}

/** copyShard streams one shard's snapshot from `origin` into the sink; returns its seq and key count. */
async function copyShard(
  origin: string,
  idx: number,
  token: string,
  agent: Agent,
  sink: FileSink,
  onChunk: (keys: number) => void,
): Promise<{ seq: number; keys: number }> {
  const res = await request(`${origin}/_repl/snapshot?shard=${idx}`, {
    dispatcher: agent,
    headers: token === '' ? {} : { authorization: `Bearer ${token}` },
  });
  if (res.statusCode !== 200) throw errorOf(res.statusCode, Buffer.from(await res.body.arrayBuffer()));
  const decoder = new SnapshotDecoder();
  let keys = 0;
  for await (const chunk of res.body) {
    const bytes = chunk as Buffer;
    keys += decoder.push(bytes).length;
    await sink.write(bytes);
    onChunk(keys);
  }
  if (decoder.seq === undefined || !decoder.done)
    throw new DistkvError('SHARD_UNREACHABLE', `the snapshot of shard ${idx} from ${origin} ended early`);
  return { seq: decoder.seq, keys };
}

/** appendCrc reads the file back and appends the crc32c of everything in it. */
async function appendCrc(fh: FileHandle, sink: FileSink): Promise<void> {
  const crc = new Crc();
  const buf = Buffer.alloc(READ_CHUNK);
  for (let at = 0; at < sink.position;) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(READ_CHUNK, sink.position - at), at);
    crc.add(buf.subarray(0, bytesRead));
    at += bytesRead;
  }
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(crc.value, 0);
  await sink.write(tail);
}

/** alreadyExists is the refusal of a backup FILE that exists, without --force. */
function alreadyExists(file: string): UsageError {
  return new UsageError(
    `${file} already exists: name another file, or pass --force to replace it (nothing was copied)`,
  );
}

/**
 * publish gives the complete `partial` its final name `file`. Without `force` it never replaces a
 * file that appeared during the copy: link() fails with EEXIST where rename() would replace it.
 * A file system without hard links falls back to a check and a rename.
 */
async function publish(partial: string, file: string, force: boolean): Promise<void> {
  if (force) return rename(partial, file);
  try {
    await link(partial, file);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    if ((await stat(file).catch(() => undefined)) !== undefined)
      throw Object.assign(new Error(`${file} exists`), { code: 'EEXIST' });
    return rename(partial, file);
  }
  await rm(partial, { force: true });
}

/** mib formats a byte count in MiB with one decimal. */
function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** FileSource reads a file sequentially in exact-size pieces. */
class FileSource {
  private buf = Buffer.alloc(0);
  private at = 0;
  private readonly fh: FileHandle;
  private readonly end: number;

  constructor(fh: FileHandle, end: number) {
    this.fh = fh;
    this.end = end;
  }

  async take(n: number): Promise<Buffer> {
    while (this.buf.length < n) {
      if (this.at >= this.end) throw new Error('the file ends in the middle of a record');
      const chunk = Buffer.alloc(Math.min(Math.max(READ_CHUNK, n), this.end - this.at));
      const { bytesRead } = await this.fh.read(chunk, 0, chunk.length, this.at);
      if (bytesRead === 0) throw new Error('the file ends in the middle of a record');
      this.at += bytesRead;
      this.buf =
        this.buf.length === 0
          ? chunk.subarray(0, bytesRead)
          : Buffer.concat([this.buf, chunk.subarray(0, bytesRead)]);
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
}

/** checkCrc verifies the crc at the end of a backup file of `size` bytes. */
async function checkCrc(fh: FileHandle, size: number): Promise<void> {
  if (size < BACKUP_HEADER_BYTES + 4) throw new Error('the file is too short to be a backup');
  const crc = new Crc();
  const buf = Buffer.alloc(READ_CHUNK);
  const body = size - 4;
  for (let at = 0; at < body;) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(READ_CHUNK, body - at), at);
    crc.add(buf.subarray(0, bytesRead));
    at += bytesRead;
  }
  const tail = Buffer.alloc(4);
  await fh.read(tail, 0, 4, body);
  if (tail.readUInt32LE(0) !== crc.value)
    throw new Error('the checksum does not match: the file is damaged or incomplete');
}

/**
 * readEntries parses a backup of `size` bytes (header, shard sections, end) and calls `onEntry` for
 * each key in file order, with its expiry (Unix ms, 0 = never); throws on a malformed file. Each
 * section's snapshot ends with its key length 0 and exactSeq (src/replication/snapshot-format.ts).
 */
async function readEntries(
  fh: FileHandle,
  size: number,
  onEntry: (key: string, value: Buffer, expiresAtMs: number) => Promise<void>,
): Promise<void> {
  const src = new FileSource(fh, size - 4);
  checkBackupHeader(await src.take(BACKUP_HEADER_BYTES));
  for (;;) {
    const tag = (await src.take(1))[0];
    if (tag === TAG_END) return;
    if (tag !== TAG_SHARD) throw new Error(`unknown section tag ${tag}`);
    await src.take(SECTION_HEADER_BYTES - 1);
    const { version } = checkSnapshotHeader(await src.take(SNAPSHOT_HEADER_BYTES));
    const rest = entryHeadBytes(version) - 2;
    for (;;) {
      const keyLen = Buffer.from(await src.take(2));
      if (keyLen.readUInt16LE(0) === 0) break;
      const e = decodeEntryHead(Buffer.concat([keyLen, await src.take(rest)]), 0, version);
      const key = (await src.take(e.keyLen)).toString('utf8');
      await onEntry(key, Buffer.from(await src.take(e.valueLen)), e.expiresAtMs ?? 0);
    }
    await src.take(SNAPSHOT_EXACT_SEQ_BYTES);
  }
}

/** BACKUP_VERBS are `backup` and `restore`. */
export const BACKUP_VERBS: Record<string, ClientVerb> = {
  backup: {
    usage: 'distkv backup FILE',
    summary: "copy every shard's keys and values from its leader into FILE",
    details:
      'Each shard is copied from its leader as one snapshot at a seq S; when the leader wrote during the\ncopy, the shard is copied again (--retries), so each shard in FILE is exactly its state at S.\nNeeds the token when the cluster has one. Exit 0 when FILE is complete, 1 when a shard could not be\ncopied (or never held still, without --allow-fuzzy), 2 for usage or file mistakes (FILE exists, without --force).',
    options: {
      retries: {
        type: 'string',
        valueName: 'N',
        help: `copies of a shard to try while it is being written to (default ${DEFAULT_RETRIES})`,
      },
      'allow-fuzzy': {
        type: 'boolean',
        help: 'keep a shard copied while writes went on (each key then holds a value it had during the copy)',
      },
      force: {
        type: 'boolean',
        help: 'replace FILE when it exists (without it, an existing FILE is refused)',
      },
    },
    run: async (client, args, out, conn) => {
      const [file] = positionals(args, 1, 1, 'distkv backup FILE') as [string];
      const retries = intOption(args, 'retries') ?? DEFAULT_RETRIES;
      const allowFuzzy = args.options.get('allow-fuzzy') === true;
      const force = args.options.get('force') === true;
      // FILE is checked before the copy: a directory there would fail the final rename only after
      // every shard was copied, and leave FILE.partial behind; an existing file is most often an
      // older backup under a mistyped name, replaced only with --force.
      const existing = await stat(file).catch(() => undefined);
      if (existing?.isDirectory() === true) throw new UsageError(`cannot write ${file}: it is a directory`);
      if (existing !== undefined && !force) throw alreadyExists(file);
      const map = await client.topology();
      const scheme = new URL(conn.urls[0]!).protocol;
      const partial = `${file}.partial`;
      let fh: FileHandle;
      try {
        // Exclusive: two backups to one FILE (an overlapping cron job) would write into each
        // other's copy, and the crc, computed from the file read back, would vouch for the mix.
        fh = await open(partial, 'wx+');
      } catch (err) {
        if ((err as { code?: unknown }).code === 'EEXIST')
          throw new UsageError(
            `${partial} exists: another backup to ${file} may be running; if none is (one was killed), remove ${partial} and run the backup again`,
          );
        throw fileProblem(`cannot write ${partial}`, err);
      }
      const agent = new Agent({ ...(conn.ca === undefined ? {} : { connect: { ca: conn.ca } }) });
      const shards: BackupShardMeta[] = [];
      const progress = stderrProgress(true);
      // Copies every shard into FILE.partial; FILE appears only once this completed (rename below).
      const copyAll = async (): Promise<void> => {
        const sink = new FileSink(fh);
        await sink.write(encodeBackupHeader());
        for (const s of map.shards) {
          const origin = `${scheme}//${s.address}`;
          const start = sink.position;
          let copy: { seq: number; keys: number; consistent: boolean } | undefined;
          for (let attempt = 0; attempt <= retries && copy?.consistent !== true; attempt++) {
            await sink.cut(start);
            await sink.write(encodeSectionHeader(s.idx, false));
            const { seq, keys } = await copyShard(origin, s.idx, conn.token, agent, sink, (n) => {
              progress.show(
                () =>
                  `backup: shard ${s.idx + 1}/${map.shards.length} (${s.name}${attempt > 0 ? `, copy ${attempt + 1}` : ''}): ${n} keys; ${mib(sink.position)} written`,
              );
            });
            const after = (await client.cluster(s.address)).shards[s.idx]?.leader.last_seq;
            copy = { seq, keys, consistent: after === seq };
          }
          if (copy === undefined) throw new DistkvError('INTERNAL', `shard ${s.idx} was not copied`);
          if (copy.consistent)
            await fh.write(encodeSectionHeader(s.idx, true), 0, SECTION_HEADER_BYTES, start);
          else if (!allowFuzzy)
            throw new DistkvError(
              'UNAVAILABLE',
              `shard ${s.idx} (${s.name}) was written to during each of ${retries + 1} copies; run the backup when writes pause, raise --retries, or pass --allow-fuzzy`,
            );
          shards.push({ idx: s.idx, name: s.name, ...copy });
        }
        const meta: BackupMeta = {
          created: new Date().toISOString(),
          source: conn.urls.join(','),
          topology: map.hash,
          shards,
        };
        await sink.write(encodeEnd(meta));
        await appendCrc(fh, sink);
        await fh.sync();
      };
      let complete = false;
      try {
        // The last line stays on a terminal until the result replaces it (cleared below).
        await whileInterruptible(
          copyAll,
          () => {
            removeFile(partial);
          },
          `distkv backup: interrupted: ${file} was not written (${partial} removed)`,
        );
        complete = true;
      } finally {
        progress.clear();
        await fh.close();
        await agent.close();
        if (!complete) await rm(partial, { force: true });
      }
      try {
        await publish(partial, file, force);
      } catch (err) {
        await rm(partial, { force: true });
        if ((err as { code?: unknown }).code === 'EEXIST') throw alreadyExists(file);
        throw fileProblem(`cannot rename ${partial} to ${file}`, err);
      }
      const keys = shards.reduce((n, s) => n + s.keys, 0);
      if (out.json) out.doc({ file, keys, shards });
      else {
        for (const s of shards)
          out.line(
            `shard ${s.idx} ${s.name}: ${s.keys} keys at seq ${s.seq}${s.consistent ? '' : ' (fuzzy)'}`,
          );
        out.line(`wrote ${file}: ${keys} keys from ${shards.length} shards`);
      }
      return 0;
    },
  },
  restore: {
    usage: 'distkv restore FILE',
    summary: 'write every key of a backup FILE into a cluster (empty unless --force)',
    details:
      'Checks the whole file first (nothing is written from a damaged file), then routes each key to its\nshard in the target cluster, whose layout may differ from the source. Exit 0 when every key was\nwritten, 1 when the cluster is not empty or a write failed, 2 for usage mistakes and unreadable or\ndamaged files.',
    options: {
      force: {
        type: 'boolean',
        help: 'restore into a cluster that already holds keys (overwrites the keys of the backup)',
      },
    },
    run: async (client, args, out) => {
      const [file] = positionals(args, 1, 1, 'distkv restore FILE') as [string];
      let fh: FileHandle;
      try {
        fh = await open(file, 'r');
      } catch (err) {
        throw fileProblem(`cannot read ${file}`, err);
      }
      try {
        const size = (await fh.stat()).size;
        try {
          await checkCrc(fh, size);
          await readEntries(fh, size, () => Promise.resolve());
        } catch (err) {
          throw fileProblem(`${file} is not a usable backup`, err);
        }
        if (args.options.get('force') !== true) {
          const first = (await client.scanPage('', { limit: 1 })).items[0];
          if (first !== undefined)
            throw new DistkvError(
              'CLUSTER_NOT_EMPTY',
              `the cluster already holds keys (e.g. ${JSON.stringify(first.key)}): restore into an empty cluster, or pass --force to overwrite the keys of the backup`,
            );
        }
        let written = 0;
        let ops: BatchOp[] = [];
        const progress = stderrProgress(true);
        const flush = async (): Promise<void> => {
          const results = await client.batch(ops);
          const failed = results.findIndex((r) => !r.ok);
          const r = results[failed];
          if (r !== undefined && !r.ok) {
            // The batch wrote its other keys: say how many keys the cluster now holds, since a
            // second restore is refused (CLUSTER_NOT_EMPTY) without --force.
            const failures = results.filter((x) => !x.ok).length;
            written += results.length - failures;
            const more =
              failures > 1 ? ` (and ${failures - 1} more key${failures > 2 ? 's' : ''} of its batch)` : '';
            throw new DistkvError(
              r.error.code,
              `restoring key ${JSON.stringify(ops[failed]!.key)}: ${r.error.message}${more}; the restore stopped after writing ${written} keys: the cluster holds part of the backup, so run it again with --force once that is fixed`,
            );
          }
          written += ops.length;
          ops = [];
          progress.show(() => `restore: ${written} keys written`);
        };
        let expired = 0;
        await readEntries(fh, size, async (key, value, expiresAtMs) => {
          // A key keeps its expiry: it expires at the same instant in the restored cluster, and one
          // that expired since the backup is not written at all.
          const ttlMs = expiresAtMs === 0 ? undefined : expiresAtMs - Date.now();
          if (ttlMs !== undefined && ttlMs <= 0) {
            expired++;
            return;
          }
          ops.push(ttlMs === undefined ? { op: 'set', key, value } : { op: 'set', key, value, ttlMs });
          if (ops.length >= RESTORE_BATCH_OPS) await flush();
        });
        if (ops.length > 0) await flush();
        progress.clear();
        if (out.json) out.doc({ file, keys: written, expired });
        else
          out.line(
            `restored ${written} keys from ${file}` +
              (expired === 0 ? '' : ` (${expired} more had expired since the backup)`),
          );
        return 0;
      } finally {
        await fh.close();
      }
    },
  },
};
