/**
 * `distkv backup FILE` (docs/operations.md, "Backup and restore"; restore.ts reads the file back):
 * the verb, its checks of FILE, and the file around the shards' sections.
 *
 * backup copies every shard from its leader with `GET /_repl/snapshot` (the stream a new replica
 * loads; needs the token when one is set) into FILE (backup-format.ts), one shard after another
 * (backup-shard.ts: a copy that raced writes is made again, up to --retries; a shard whose leader
 * is down or moving is copied from the leader a reloaded map names, for up to --wait-ms; a leader
 * that refuses disputed slots or started behind its replica fails the backup). FILE is checked
 * before anything is copied (a directory, a special file, an existing file without --force are
 * refused), written as FILE.partial (created exclusively) and renamed when whole; a backup that
 * fails or is interrupted removes FILE.partial.
 */
import { type FileHandle, link, open, rename, rm, stat } from 'node:fs/promises';
import { intOption, UsageError } from './args.js';
import { appendCrc, FileSink } from './backup-file.js';
import { type BackupMeta, type BackupShardMeta, encodeBackupHeader, encodeEnd } from './backup-format.js';
import { type BackupRun, backupShard } from './backup-shard.js';
import { type ClientVerb, positionals } from './connect.js';
import { VERB_SUMMARIES } from './verb-table.js';
import { fileProblem, notRegular } from './files.js';
import { reasonOf } from '../util/fs-reason.js';
import { FAILOVER_WAIT_MS, failoverWaitMs, WAIT_OPTION } from './leader-wait.js';
import { stderrProgress } from './progress-line.js';
import { SLOW_NOTE_MS, withSlowNote } from './slow-note.js';
import { removeFile, whileInterruptible } from './interrupt.js';
import { undici } from '../util/lazy-undici.js';
import { plural } from '../util/plural.js';

const DEFAULT_RETRIES = 3;

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
        `cannot write ${file}: it is ${notRegular(existing) ?? 'not a file'}, not a regular file (a backup is written as FILE.partial and renamed over FILE, which would replace it): name a regular file`,
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
    conn.progress = progress;
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
      const run: BackupRun = {
        client,
        scheme,
        token: conn.token,
        agent,
        sink,
        progress,
        shards: map.shards.length,
        retries,
        waitMs,
        allowFuzzy,
        file,
      };
      for (const s of map.shards) {
        const copy = await backupShard(run, s);
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
