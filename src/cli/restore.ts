/**
 * `distkv restore FILE` (docs/operations.md, "Backup and restore"): checks the file's crc and
 * parses it whole before it writes anything, refuses a cluster that already holds keys (unless
 * --force), then writes every entry through the client library, which routes each key to its shard
 * in the target cluster (its layout may differ from the source's). Keys that are UTF-8 go in
 * batches (`POST /kv/_batch`, whose JSON carries keys as text); a key that is not UTF-8 is written
 * by a `PUT /kv/%XX...` of its own with its exact bytes (PUTS_AT_ONCE at a time), since text would
 * stand for other bytes (U+FFFD in place of each one) and two such keys could become one.
 */
import { isUtf8 } from 'node:buffer';
import { type FileHandle, open } from 'node:fs/promises';
import type { BatchOp } from '../client/types.js';
import type { DistkvClient } from '../client/client.js';
import { keyText } from '../client/key-bytes.js';
import { DistkvError } from '../errors.js';
import { UsageError } from './args.js';
import { checkCrc, readEntries } from './backup-file.js';
import { type ClientVerb, positionals } from './connect.js';
import { fileProblem } from './files.js';
import { whileInterruptible } from './interrupt.js';
import { stderrProgress } from './progress-line.js';

/** RESTORE_BATCH_OPS is how many entries restore hands batch() at a time. */
const RESTORE_BATCH_OPS = 1000;

/** PUTS_AT_ONCE is how many keys that are not UTF-8 (one PUT each) restore writes at a time. */
const PUTS_AT_ONCE = 32;

/** othersOf says how many more keys of a group were refused besides the one named. */
function othersOf(failures: number, group: string): string {
  return failures > 1 ? ` (and ${failures - 1} more key${failures > 2 ? 's' : ''} of its ${group})` : '';
}

/** Pending is an entry waiting to be written: a batch operation, or a key that is not UTF-8. */
type Pending = BatchOp | { op: 'put-bytes'; key: Buffer; value: Buffer; ttlMs?: number };

/** Writer writes entries in groups and counts what it wrote; the first refusal stops it. */
class Writer {
  written = 0;
  private pending: Pending[] = [];
  private readonly client: DistkvClient;
  private readonly onProgress: (written: number) => void;

  constructor(client: DistkvClient, onProgress: (written: number) => void) {
    this.client = client;
    this.onProgress = onProgress;
  }

  async add(p: Pending): Promise<void> {
    this.pending.push(p);
    if (this.pending.length >= RESTORE_BATCH_OPS) await this.flush();
  }

  async flush(): Promise<void> {
    const ops = this.pending.filter((p): p is BatchOp => p.op !== 'put-bytes');
    const results = ops.length === 0 ? [] : await this.client.batch(ops);
    const failed = results.findIndex((r) => !r.ok);
    const r = results[failed];
    if (r !== undefined && !r.ok) {
      const failures = results.filter((x) => !x.ok).length;
      this.written += results.length - failures;
      throw this.stopped(
        r.error.code,
        keyText(ops[failed]!.key),
        `${r.error.message}${othersOf(failures, 'batch')}`,
      );
    }
    this.written += ops.length;
    const bytes = this.pending.filter((p) => p.op === 'put-bytes');
    for (let i = 0; i < bytes.length; i += PUTS_AT_ONCE) {
      const group = bytes.slice(i, i + PUTS_AT_ONCE);
      const outcomes = await Promise.allSettled(
        group.map((p) => this.client.put(p.key, p.value, p.ttlMs === undefined ? {} : { ttlMs: p.ttlMs })),
      );
      const refused = outcomes.findIndex((o) => o.status === 'rejected');
      const failures = outcomes.filter((o) => o.status === 'rejected').length;
      this.written += outcomes.length - failures;
      const o = outcomes[refused];
      if (o?.status === 'rejected') {
        const err: unknown = o.reason;
        if (!(err instanceof DistkvError)) throw err;
        throw this.stopped(
          err.code,
          keyText(group[refused]!.key),
          `${err.message}${othersOf(failures, 'PUTs')}`,
        );
      }
    }
    this.pending = [];
    this.onProgress(this.written);
  }

  /**
   * stopped is the error that ends a restore at a refused key. The keys written before it stay:
   * it says how many, since a second restore is refused (CLUSTER_NOT_EMPTY) without --force.
   */
  private stopped(code: DistkvError['code'], key: string, why: string): DistkvError {
    return new DistkvError(
      code,
      `restoring key ${key}: ${why}; the restore stopped after writing ${this.written} keys: the cluster holds part of the backup, so run it again with --force once that is fixed`,
    );
  }
}

/** RESTORE_VERB is `distkv restore FILE`. */
export const RESTORE_VERB: ClientVerb = {
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
    // "-" is standard input to every other verb that takes a file; a restore reads FILE twice (all
    // of it is checked before anything is written), which a pipe cannot give.
    if (file === '-')
      throw new UsageError(
        'a backup is restored from a file (checked whole before anything is written), not from standard input: name the file (./- for a file called "-")',
      );
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
            `the cluster already holds keys (e.g. ${JSON.stringify(first.key.length > 64 ? `${first.key.slice(0, 64)}…` : first.key)}): restore into an empty cluster, or pass --force to overwrite the keys of the backup`,
          );
      }
      const progress = stderrProgress(true);
      const writer = new Writer(client, (n) => {
        progress.show(() => `restore: ${n} keys written`);
      });
      let expired = 0;
      // Ctrl-C leaves the keys written so far (a batch in flight may be applied too): say so.
      const writeAll = async (): Promise<void> => {
        await readEntries(fh, size, async ({ key, value, expiresAtMs }) => {
          // A key keeps its expiry: it expires at the same instant in the restored cluster, and one
          // that expired since the backup is not written at all.
          const ttlMs = expiresAtMs === 0 ? undefined : expiresAtMs - Date.now();
          if (ttlMs !== undefined && ttlMs <= 0) {
            expired++;
            return;
          }
          const ttl = ttlMs === undefined ? {} : { ttlMs };
          await writer.add(
            isUtf8(key)
              ? { op: 'set', key: key.toString('utf8'), value, ...ttl }
              : { op: 'put-bytes', key, value, ...ttl },
          );
        });
        await writer.flush();
      };
      await whileInterruptible(
        writeAll,
        () => {
          progress.clear();
        },
        () =>
          `distkv restore: interrupted after writing ${writer.written} keys (and maybe some of those in flight): the cluster holds part of the backup; run the restore again with --force to write all of it`,
      );
      progress.clear();
      const written = writer.written;
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
};
