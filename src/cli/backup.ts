/**
 * `distkv backup FILE` (docs/operations.md, "Backup and restore"; restore.ts reads the file back).
 *
 * backup copies every shard from its leader with `GET /_repl/snapshot` (the stream a new replica
 * loads; needs the token when one is set) into FILE (backup-format.ts). A snapshot starts at the
 * leader's last seq S and is read while writes go on, so after each shard the leader is asked
 * again: no record after S but its own expire records (`heldStill`) means the copy is exactly the
 * shard at S ("consistent"); otherwise the shard is copied again, up to --retries times. A shard that never holds still fails the backup unless
 * --allow-fuzzy. A shard whose leader cannot be reached or no longer leads it (a failover during
 * the backup: SHARD_UNREACHABLE, WRONG_NODE, SWITCHING_LEADER, DRAINING, STARTING, UNAVAILABLE) is copied
 * again from the leader a reloaded map names, for up to --wait-ms (FAILOVER_WAIT_MS); a copy counts as
 * consistent only when the node it came from still leads the shard at the copy's seq. A shard
 * with a slot its leader refuses because a peer's config gives it another leader (`/cluster` →
 * `peers[].disputed_slots`, read with the same answer) fails the backup (SLOTS_DISPUTED): that
 * leader may hold keys and writes the copy lacks. So does a shard whose leader started behind its
 * replica (LEADER_BEHIND: an empty or older store, which refuses the snapshot; refuseBehind). The
 * file is written as FILE.partial and renamed when whole.
 */
import { type FileHandle, link, open, rename, rm, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import type { Agent } from 'undici';
import type { ClusterShard } from '../client/types.js';
import { errorOf } from '../client/wire-decode.js';
import { DistkvError } from '../errors.js';
import type { ShardInfo } from '../routing/shard-map.js';
import { formatRanges, intersectRanges, parseRanges } from '../routing/slot-dispute.js';
import { SnapshotDecoder } from '../replication/snapshot-format.js';
import { intOption, UsageError } from './args.js';
import { appendCrc, FileSink } from './backup-file.js';
import {
  type BackupMeta,
  type BackupShardMeta,
  encodeBackupHeader,
  encodeEnd,
  encodeSectionHeader,
} from './backup-format.js';
import { disputesOf } from './cluster-commands.js';
import { type ClientVerb, positionals } from './connect.js';
import { VERB_SUMMARIES } from './verb-table.js';
import { fileProblem } from './files.js';
import { reasonOf } from '../util/fs-reason.js';
import {
  behindAdvice,
  FAILOVER_WAIT_MS,
  failoverWaitMs,
  isMoving,
  lookForLeader,
  noLeaderAdvice,
  WAIT_OPTION,
} from './leader-wait.js';
import { stderrProgress } from './progress-line.js';
import { SLOW_NOTE_MS, withSlowNote } from './slow-note.js';
import { removeFile, whileInterruptible } from './interrupt.js';
import { undici } from '../util/lazy-undici.js';
import { ERROR_BODY_BYTES, readBody } from '../util/peer-answer.js';
import { mib } from '../util/mib.js';
import { plural } from '../util/plural.js';

const DEFAULT_RETRIES = 3;
/** ERROR_READ_MS bounds the read of a refusal's body (its head came: a JSON error is a few hundred bytes). */
const ERROR_READ_MS = 10_000;
/**
 * decodedCount returns how many records `bytes` completes in `decoder`; a snapshot the decoder
 * refuses (its crc32c does not match, a bad header) is CORRUPTION naming `origin` (the caller adds
 * the shard and what to do): the decoder's message named neither.
 */
function decodedCount(decoder: SnapshotDecoder, bytes: Buffer, idx: number, origin: string): number {
  try {
    return decoder.push(bytes).length;
  } catch (err) {
    throw new DistkvError(
      'CORRUPTION',
      `its snapshot from ${origin} is damaged (${(err as Error).message})`,
      { cause: err },
    );
  }
}

/**
 * copyShard streams one shard's snapshot from `origin` into the sink; returns its seq and key
 * count. A connection that fails (refused, reset, cut mid-stream) is SHARD_UNREACHABLE naming the
 * shard and the node; a failed write to the file is the file's error, as it is.
 */
async function copyShard(
  origin: string,
  idx: number,
  token: string,
  agent: Agent,
  sink: FileSink,
  onChunk: (keys: number) => void,
): Promise<{ seq: number; keys: number }> {
  const unreachable = (err: unknown): DistkvError =>
    err instanceof DistkvError
      ? err
      : new DistkvError(
          'SHARD_UNREACHABLE',
          `shard ${idx} could not be copied from ${origin}: ${(err as Error).message}`,
          { cause: err },
        );
  const { request } = await undici();
  const res = await request(`${origin}/_repl/snapshot?shard=${idx}`, {
    dispatcher: agent,
    headers: token === '' ? {} : { authorization: `Bearer ${token}` },
  }).catch((err: unknown) => {
    throw unreachable(err);
  });
  // A refusal's body is read up to ERROR_BODY_BYTES: a node that sent more (broken, or not a
  // distkv node) had it all gathered in memory.
  if (res.statusCode !== 200)
    throw errorOf(
      res.statusCode,
      await readBody(
        res,
        ERROR_BODY_BYTES,
        ERROR_READ_MS,
        `snapshot of shard ${idx} from ${origin}`,
        true,
      ).catch((err: unknown) => {
        throw unreachable(err);
      }),
    );
  const decoder = new SnapshotDecoder();
  const chunks = res.body[Symbol.asyncIterator]();
  let keys = 0;
  try {
    for (;;) {
      const next = await chunks.next().catch((err: unknown) => {
        throw unreachable(err);
      });
      if (next.done === true) break;
      const bytes = next.value as Buffer;
      keys += decodedCount(decoder, bytes, idx, origin);
      await sink.write(bytes);
      onChunk(keys);
    }
  } catch (err) {
    // A stream left half read (the file could not take a chunk) kept its connection, and the
    // agent's close waited for it for ever: the command exited 13 with nothing said.
    res.body.destroy();
    throw err;
  }
  if (decoder.seq === undefined || !decoder.done)
    throw new DistkvError('SHARD_UNREACHABLE', `the snapshot of shard ${idx} from ${origin} ended early`);
  return { seq: decoder.seq, keys };
}

/**
 * heldStill tells whether a shard copied from `leader` as a snapshot at `seq` is exactly its state
 * at `seq`, by the leader's `/cluster` read after the copy (`after`): the node still leads it and
 * logged nothing after `seq` but the expire records it writes itself as TTLs run out
 * (`last_write_seq`; a node that does not report it must have logged nothing at all). An expire
 * record changes nothing a restore writes: its key, whose expiry had passed, is in the copy with
 * that expiry or not at all, and a restore skips it either way. A shard whose keys keep expiring
 * used to fail every copy, with no client writing.
 */
function heldStill(after: ClusterShard['leader'] | undefined, seq: number, leader: string): boolean {
  if (after?.address !== leader || after.last_seq === undefined || after.last_seq < seq) return false;
  return after.last_write_seq === undefined ? after.last_seq === seq : after.last_write_seq <= seq;
}

/**
 * refuseDisputed throws SLOTS_DISPUTED when `leader`'s `/cluster` peers (`peers`) name slots of
 * shard `s` it refuses: another node's config gives them another leader, which may have taken
 * writes for them that this copy lacks (docs/operations.md, "When the nodes disagree about the config").
 */
function refuseDisputed(peers: unknown, leader: string, s: ShardInfo): void {
  const shardSlots = [s.slots];
  const found = disputesOf(leader, peers).flatMap((d) => {
    const slots = intersectRanges(parseRanges(d.slots) ?? shardSlots, shardSlots);
    return slots.length === 0
      ? []
      : [`node ${d.peer} (config ${String(d.peer_version)}): slots ${formatRanges(slots)}`];
  });
  if (found.length > 0)
    throw new DistkvError(
      'SLOTS_DISPUTED',
      `shard ${s.idx} (${s.name}) was not backed up: its leader ${leader} refuses slots another node's config gives another leader (${found.join('; ')}), which may hold writes a copy would lack. Give every node the same sharding.toml and run the backup again`,
    );
}

/**
 * refuseBehind throws LEADER_BEHIND when `leader`'s `/cluster` (`after`, read after the copy) says
 * it started behind a replica of shard `s` (an empty or older store, docs/failover.md): what it
 * streamed is not the shard. Such a leader refuses the snapshot itself (repl-routes.ts); this
 * catches one held while the copy ran. Before, the backup copied the empty store as the shard, at
 * seq 0, "consistent", and exited 0: a restore of that file had none of the shard's keys.
 */
function refuseBehind(after: ClusterShard['leader'] | undefined, leader: string, s: ShardInfo): void {
  const b = after?.behind;
  if (b === undefined) return;
  throw new DistkvError(
    'LEADER_BEHIND',
    `shard ${s.idx} (${s.name}) was not backed up: ${behindAdvice(s.name, leader, b)}`,
  );
}

/** specialKind names what a path that is neither a regular file nor a directory is. */
function specialKind(s: Stats): string {
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isFIFO()) return 'a named pipe (FIFO)';
  if (s.isSocket()) return 'a socket';
  return 'not a file';
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

/** BACKUP_VERB is `distkv backup FILE`. */
export const BACKUP_VERB: ClientVerb = {
  usage: 'distkv backup FILE',
  summary: VERB_SUMMARIES.backup,
  details: `Each shard is copied from its leader as one snapshot at a seq S; when the leader wrote during the\ncopy, the shard is copied again (--retries), so each shard in FILE is exactly its state at S.\nThe expire records a leader logs as TTLs run out are not writes here: a key keeps its expiry\ninstant in FILE, and one that expired by the copy or the restore is not restored. Versions are not\nkept: a restore gives every key a new one.\nA shard whose leader is down or moving (a failover) is copied from the leader a newer map names\n(for up to --wait-ms, ${FAILOVER_WAIT_MS / 1000} s by default). A shard whose leader refuses some of its\nslots because the config of another node gives them another leader fails the backup (SLOTS_DISPUTED): give every node the same file.\nNeeds the token when the cluster has one. Exit 0 when FILE is complete, 1 when a shard could not be\ncopied (or never held still, without --allow-fuzzy), 2 for usage or file mistakes (FILE exists, without --force).`,
  options: {
    retries: {
      type: 'string',
      valueName: 'N',
      help: `copies of a shard made again when it was written to during one (default ${DEFAULT_RETRIES}; 0: one copy only)`,
    },
    'allow-fuzzy': {
      type: 'boolean',
      help: 'keep a shard copied while writes went on (each key then holds a value it had during the copy)',
    },
    force: {
      type: 'boolean',
      help: 'replace FILE when it exists (without it, an existing FILE is refused)',
    },
    ...WAIT_OPTION,
  },
  check: (args) => positionals(args, 1, 1, 'distkv backup FILE'),
  run: async (client, args, out, conn) => {
    const [file] = positionals(args, 1, 1, 'distkv backup FILE') as [string];
    // "-" is standard output to every other verb that takes a file: `distkv backup - | gzip` wrote
    // a file named "-" in the working directory and piped only the summary lines.
    if (file === '-')
      throw new UsageError(
        'a backup is written to a file (as FILE.partial, renamed once complete), not to standard output: name the file (./- for a file called "-")',
      );
    // An empty name ($FILE unset in a script) copied every shard, then failed renaming ".partial".
    if (file === '')
      throw new UsageError('FILE is empty: name the file to write the backup to (nothing was copied)');
    const retries = intOption(args, 'retries') ?? DEFAULT_RETRIES;
    const waitMs = failoverWaitMs(args);
    const allowFuzzy = args.options.get('allow-fuzzy') === true;
    const force = args.options.get('force') === true;
    // FILE is checked before the copy: a directory there would fail the final rename only after
    // every shard was copied, and leave FILE.partial behind; an existing file is most often an
    // older backup under a mistyped name, replaced only with --force.
    const existing = await stat(file).catch(() => undefined);
    if (existing?.isDirectory() === true) throw new UsageError(`cannot write ${file}: it is a directory`);
    // Not even with --force: the rename would put a regular file in place of a device, a FIFO or
    // a socket (run as root, `backup /dev/null --force` replaced /dev/null for the whole machine).
    if (existing !== undefined && !existing.isFile())
      throw new UsageError(
        `cannot write ${file}: it is ${specialKind(existing)}, not a regular file (a backup is written as FILE.partial and renamed over FILE, which would replace it): name a regular file`,
      );
    if (existing !== undefined && !force) throw alreadyExists(file);
    // Silent for as long as the client retries a node that takes requests and never answers.
    const map = await withSlowNote('backup', client.topology(), false, SLOW_NOTE_MS, conn.waited);
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
    const agent = new (await undici()).Agent({
      ...(conn.ca === undefined ? {} : { connect: { ca: conn.ca } }),
    });
    const shards: BackupShardMeta[] = [];
    const progress = stderrProgress(true);
    // Copies every shard into FILE.partial; FILE appears only once this completed (rename below).
    const copyAll = async (): Promise<void> => {
      // A full disk (or a file size limit) used to end the backup with the bare system error
      // ("ENOSPC: no space left on device, write", exit 1), naming neither file nor what was left.
      const sink = new FileSink(
        fh,
        (err) =>
          new UsageError(
            `cannot write ${partial}: ${reasonOf(err)}; ${file} was not written (${partial} removed): free space or name a file elsewhere, and run the backup again`,
            false,
          ),
      );
      await sink.write(encodeBackupHeader());
      for (const s of map.shards) {
        let leader = s.address;
        const failoverDeadline = performance.now() + waitMs;
        const start = sink.position;
        let copy: { seq: number; keys: number; consistent: boolean } | undefined;
        for (let attempt = 0; attempt <= retries && copy?.consistent !== true; attempt++) {
          await sink.cut(start);
          await sink.write(encodeSectionHeader(s.idx, false));
          try {
            const { seq, keys } = await copyShard(
              `${scheme}//${leader}`,
              s.idx,
              conn.token,
              agent,
              sink,
              (n) => {
                progress.show(
                  () =>
                    `backup: shard ${s.idx + 1}/${map.shards.length} (${s.name}${attempt > 0 ? `, copy ${attempt + 1}` : ''}): ${plural(n, 'key')}; ${mib(sink.position)} MiB written`,
                );
              },
            );
            const view = await client.cluster(leader);
            refuseDisputed(view.peers, leader, s);
            const after = view.shards.find((v) => v.idx === s.idx)?.leader;
            refuseBehind(after, leader, s);
            copy = { seq, keys, consistent: heldStill(after, seq, leader) };
          } catch (err) {
            // The leader's file is not damaged: what it streamed was (a transfer, or the leader).
            if (err instanceof DistkvError && err.code === 'CORRUPTION')
              throw new DistkvError(
                err.code,
                `shard ${s.idx} (${s.name}): ${err.message}; a transfer or leader problem: run the backup again (if it fails again, check ${leader}'s log or fail the shard over); ${file} was not written`,
                { cause: err },
              );
            if (err instanceof DistkvError && err.code === 'LEADER_BEHIND')
              throw new DistkvError(
                err.code,
                `${err.message}; then run the backup again; ${file} was not written`,
                {
                  cause: err,
                },
              );
            if (!isMoving(err)) throw err;
            // The last refusal alone ("connect ECONNREFUSED") said neither that the shard was
            // waited for nor what to do about it.
            if (performance.now() >= failoverDeadline)
              throw new DistkvError(
                err.code,
                `${err.message}; ${noLeaderAdvice(s.idx, s.name, leader, waitMs)}, then run the backup again; ${file} was not written`,
                { cause: err },
              );
            // A failover: not a copy that raced writes, so it does not count against --retries.
            attempt--;
            progress.show(
              () =>
                `backup: shard ${s.idx + 1}/${map.shards.length} (${s.name}): ${err.code} at ${leader}; looking for its leader`,
            );
            leader = (await lookForLeader(client)).shard(s.idx).address;
          }
        }
        if (copy === undefined) throw new DistkvError('INTERNAL', `shard ${s.idx} was not copied`);
        if (copy.consistent) await sink.writeAt(encodeSectionHeader(s.idx, true), start);
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
      await sink.sync();
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
          `shard ${s.idx} ${s.name}: ${plural(s.keys, 'key')} at seq ${s.seq}${s.consistent ? '' : ' (fuzzy)'}`,
        );
      out.line(`wrote ${file}: ${plural(keys, 'key')} from ${plural(shards.length, 'shard')}`);
    }
    return 0;
  },
};
