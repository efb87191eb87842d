/**
 * `distkv restore FILE` (docs/operations.md, "Backup and restore"): checks the file's crc and
 * parses it whole before it writes anything, refuses a cluster that already holds keys (unless
 * --force) and one whose nodes' limits (`limits` in `/cluster`) refuse a key or value of the file
 * (nothing written), then writes every entry through the client library, which routes each key to its shard
 * in the target cluster (its layout may differ from the source's). Keys that are UTF-8 go in
 * batches (`POST /kv/_batch`, whose JSON carries keys as text); a key that is not UTF-8 is written
 * by a `PUT /kv/%XX...` of its own with its exact bytes (PUTS_AT_ONCE at a time), since text would
 * stand for other bytes (U+FFFD in place of each one) and two such keys could become one.
 * A cluster whose node refuses slots because a peer's config gives them another leader
 * (`/cluster` → `peers[].disputed_slots`) is refused before anything is written (SLOTS_DISPUTED):
 * each key of those slots would be refused, and the restore stop part-way. The node asked and
 * every leader the restore writes to are asked: a node sees a dispute only with the peers it has
 * reached since (within a peer check, 2 s; never while it cannot reach them), so the first node
 * alone missed a dispute that a leader refuses keys for.
 */
import { isUtf8 } from 'node:buffer';
import { type FileHandle, open } from 'node:fs/promises';
import type { BatchOp } from '../client/types.js';
import type { DistkvClient } from '../client/client.js';
import type { ClusterView } from '../client/types.js';
import { keyText } from '../client/key-bytes.js';
import { DistkvError } from '../errors.js';
import { UsageError } from './args.js';
import { checkCrc, readEntries } from './backup-file.js';
import { disputesOf } from './cluster-commands.js';
import { type ClientVerb, positionals } from './connect.js';
import { fileProblem } from './files.js';
import { whileInterruptible } from './interrupt.js';
import { stderrProgress } from './progress-line.js';

/**
 * RESTORE_BATCH_OPS and RESTORE_BATCH_BYTES bound the entries restore hands batch() at a time: up
 * to 1000 of them and 1 MiB of keys and values, less than one request of the client's carries
 * (src/client/batch-wire.ts), so each node gets one request at a time from the restore.
 */
const RESTORE_BATCH_OPS = 1000;
const RESTORE_BATCH_BYTES = 1024 * 1024;

/**
 * PUTS_AT_ONCE is how many keys that are not UTF-8 (one PUT each) restore writes at a time: no
 * more than the client's connections to a node (16), so none waits for a connection.
 */
const PUTS_AT_ONCE = 16;

/** keysText is "1 key" or "N keys". */
export function keysText(n: number): string {
  return `${n} key${n === 1 ? '' : 's'}`;
}

/** othersOf says how many more keys of a group were refused besides the one named. */
function othersOf(failures: number, group: string): string {
  return failures > 1 ? ` (and ${failures - 1} more key${failures > 2 ? 's' : ''} of its ${group})` : '';
}

/**
 * Pending is an entry waiting to be written: its key as text when it is UTF-8 (a batch operation),
 * else undefined (a PUT of its own with the key's bytes), and its expiry (Unix ms, 0 = never).
 */
interface Pending {
  key: Buffer;
  text: string | undefined;
  value: Buffer;
  expiresAtMs: number;
}

/**
 * expiryOption is the expiry option of a write of an entry expiring at `expiresAtMs` (Unix ms, 0 =
 * never): the instant itself (`expires_at_ms`), so the key expires exactly when the backed-up one
 * did, however long the restore took to send it. It used to send the time left (`ttl_ms`), taken
 * just before each write was sent, and a node counts that from when the write arrives: every key
 * expired late by the time its write spent on the way (and, before that was taken at sending, by
 * the time spent on the writes before it).
 */
function expiryOption(expiresAtMs: number): { expiresAtMs?: number } {
  return expiresAtMs === 0 ? {} : { expiresAtMs };
}

/**
 * Writer writes entries in groups and counts what it wrote; the first refusal stops it. Each write
 * carries its key's expiry instant (expiryOption). An entry that has expired by the time its group
 * is sent is not written (`expired`): a node would take its write as a delete (docs/api.md, "TTL"),
 * and counted as written it would say the cluster holds a key it does not.
 */
class Writer {
  written = 0;
  expired = 0;
  private pending: Pending[] = [];
  private pendingBytes = 0;
  private readonly client: DistkvClient;
  private readonly onProgress: (written: number) => void;

  constructor(client: DistkvClient, onProgress: (written: number) => void) {
    this.client = client;
    this.onProgress = onProgress;
  }

  async add(p: Pending): Promise<void> {
    const size = p.key.length + p.value.length;
    if (this.pending.length > 0 && this.pendingBytes + size > RESTORE_BATCH_BYTES) await this.flush();
    this.pending.push(p);
    this.pendingBytes += size;
    if (this.pending.length >= RESTORE_BATCH_OPS) await this.flush();
  }

  async flush(): Promise<void> {
    const ops: BatchOp[] = [];
    const now = Date.now();
    for (const p of this.pending) {
      if (p.text === undefined) continue;
      if (expiredAt(p.expiresAtMs, now)) this.expired++;
      else ops.push({ op: 'set', key: p.text, value: p.value, ...expiryOption(p.expiresAtMs) });
    }
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
    const bytes = this.pending.filter((p) => p.text === undefined);
    for (let i = 0; i < bytes.length; i += PUTS_AT_ONCE) {
      const sentAt = Date.now();
      const group: Pending[] = [];
      for (const p of bytes.slice(i, i + PUTS_AT_ONCE)) {
        if (expiredAt(p.expiresAtMs, sentAt)) this.expired++;
        else group.push(p);
      }
      const outcomes = await Promise.allSettled(
        group.map((p) => this.client.put(p.key, p.value, expiryOption(p.expiresAtMs))),
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
    this.pendingBytes = 0;
    this.onProgress(this.written);
  }

  /**
   * stopped is the error that ends a restore at a refused key. The keys written before it stay:
   * it says how many, since a second restore is refused (CLUSTER_NOT_EMPTY) without --force.
   */
  private stopped(code: DistkvError['code'], key: string, why: string): DistkvError {
    return new DistkvError(
      code,
      `restoring key ${key}: ${why}; the restore stopped after writing ${keysText(this.written)}: the cluster holds part of the backup, so run it again with --force once that is fixed`,
    );
  }
}

/** RESTORE_VERB is `distkv restore FILE`. */
export const RESTORE_VERB: ClientVerb = {
  usage: 'distkv restore FILE',
  summary: 'write every key of a backup FILE into a cluster (empty unless --force)',
  details:
    'Checks the whole file first (nothing is written from a damaged file), then routes each key to its\nshard in the target cluster, whose layout may differ from the source. A key with a TTL expires at\nits instant in the backup (its write carries that instant); one that has expired by the time it is\nsent is not written, and counted. Every key gets a new version in the target (a version read from\nthe source names nothing there). A cluster whose nodes disagree about the config\n(SLOTS_DISPUTED, as any leader it writes to reports it) is refused before anything is written. Exit 0 when every key was written, 1 when the cluster is not\nempty, its nodes disagree or a write failed, 2 for usage mistakes and unreadable or damaged files.',
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
      // The largest key and value that a restore would write (an expired key is not written).
      const largest = new Largest();
      try {
        await checkCrc(fh, size);
        await readEntries(fh, size, (e) => {
          if (!expiredAt(e.expiresAtMs, Date.now())) largest.add(e.key, e.value);
          return Promise.resolve();
        });
      } catch (err) {
        throw fileProblem(`${file} is not a usable backup`, err);
      }
      // A node that tells its limits: refuse a file it would refuse part of, before writing any
      // of it (a restore used to write every key up to the first one too large, and stop there).
      const view = await client.cluster();
      refuseDisputes(await leaderViews(client, view));
      const limits = view.limits;
      if (limits !== undefined) await checkLimits(fh, size, largest, limits);
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
        progress.show(() => `restore: ${keysText(n)} written`);
      });
      let expired = 0;
      // Ctrl-C leaves the keys written so far (a batch in flight may be applied too): say so.
      const writeAll = async (): Promise<void> => {
        await readEntries(fh, size, async ({ key, value, expiresAtMs }) => {
          // A key keeps its expiry: it expires at the same instant in the restored cluster (its
          // write carries that instant), and one that expired since the backup is not written at all.
          if (expiredAt(expiresAtMs, Date.now())) {
            expired++;
            return;
          }
          await writer.add({ key, text: isUtf8(key) ? key.toString('utf8') : undefined, value, expiresAtMs });
        });
        await writer.flush();
      };
      await whileInterruptible(
        writeAll,
        () => {
          progress.clear();
        },
        () =>
          `distkv restore: interrupted after writing ${keysText(writer.written)} (and maybe some of those in flight): the cluster holds part of the backup; run the restore again with --force to write all of it`,
      );
      progress.clear();
      const written = writer.written;
      expired += writer.expired;
      if (out.json) out.doc({ file, keys: written, expired });
      else
        out.line(
          `restored ${keysText(written)} from ${file}` +
            (expired === 0 ? '' : ` (${expired} more had expired since the backup)`),
        );
      return 0;
    } finally {
      await fh.close();
    }
  },
};

/**
 * leaderViews returns `view` and the `/cluster` of every other leader it names (the nodes the
 * restore writes to); a leader that does not answer stops the restore before anything is written.
 */
async function leaderViews(client: DistkvClient, view: ClusterView): Promise<ClusterView[]> {
  const leaders = [...new Set(view.shards.map((s) => s.leader.address))].filter((a) => a !== view.node);
  const others = await Promise.all(
    leaders.map((leader) =>
      client.cluster(leader).catch((err: unknown) => {
        const why = err instanceof Error ? err.message : String(err);
        throw new DistkvError(
          err instanceof DistkvError ? err.code : 'SHARD_UNREACHABLE',
          `leader ${leader} could not be asked whether it refuses slots (${why}); nothing was written`,
        );
      }),
    ),
  );
  return [view, ...others];
}

/** refuseDisputes throws SLOTS_DISPUTED, before anything is written, when a node of `views` refuses slots a peer disputes. */
function refuseDisputes(views: readonly ClusterView[]): void {
  const disputes = views.flatMap((v) => disputesOf(v.node, v.peers));
  if (disputes.length === 0) return;
  const named = disputes.map(
    (d) => `${d.node} refuses slots ${d.slots} (node ${d.peer} routes with config ${String(d.peer_version)})`,
  );
  throw new DistkvError(
    'SLOTS_DISPUTED',
    `the cluster's nodes disagree about the config: ${named.join('; ')}; nothing was written: give every node the same sharding.toml and run the restore again`,
  );
}

/** expiredAt reports whether a backup entry's expiry (Unix ms, 0 = never) has passed at `now`. */
function expiredAt(expiresAtMs: number, now: number): boolean {
  return expiresAtMs !== 0 && expiresAtMs <= now;
}

/** Largest keeps the largest key and the largest value of a backup (their bytes and key). */
class Largest {
  keyBytes = 0;
  key: Buffer | undefined;
  valueBytes = 0;
  valueKey: Buffer | undefined;

  add(key: Buffer, value: Buffer): void {
    if (key.length > this.keyBytes) {
      this.keyBytes = key.length;
      this.key = key;
    }
    if (value.length > this.valueBytes || this.valueKey === undefined) {
      this.valueBytes = value.length;
      this.valueKey = key;
    }
  }
}

/** shortKey shows a key in a message, cut to 64 characters. */
function shortKey(key: Buffer): string {
  if (!isUtf8(key)) return keyText(key.subarray(0, 64));
  const text = key.toString('utf8');
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

/**
 * checkLimits refuses (VALUE_TOO_LARGE or KEY_TOO_LONG, nothing written) a backup that holds a key
 * or value over the limits a node of the cluster reported, counting them in a second pass over
 * the file (only then: a backup that fits is read twice, as before).
 */
async function checkLimits(
  fh: FileHandle,
  size: number,
  largest: Largest,
  limits: NonNullable<ClusterView['limits']>,
): Promise<void> {
  const maxKey = limits.max_key_bytes;
  const maxValue = limits.max_value_bytes;
  if (largest.keyBytes <= maxKey && largest.valueBytes <= maxValue) return;
  let keys = 0;
  let values = 0;
  const now = Date.now();
  await readEntries(fh, size, (e) => {
    if (!expiredAt(e.expiresAtMs, now)) {
      if (e.key.length > maxKey) keys++;
      if (e.value.length > maxValue) values++;
    }
    return Promise.resolve();
  });
  const nothing = 'nothing was written: restore into a cluster whose nodes take them';
  if (values > 0)
    throw new DistkvError(
      'VALUE_TOO_LARGE',
      `the backup holds ${values} value${values === 1 ? '' : 's'} over the cluster's limit of ${maxValue} bytes (server.max_value_bytes), the largest ${largest.valueBytes} bytes (key ${shortKey(largest.valueKey!)}); ${nothing}`,
    );
  throw new DistkvError(
    'INVALID_KEY',
    `the backup holds ${keysText(keys)} over the cluster's limit of ${maxKey} bytes (server.max_key_bytes), the longest ${largest.keyBytes} bytes (key ${shortKey(largest.key!)}); ${nothing}`,
  );
}
