/**
 * HttpSource: a replica pulls its leader's log over HTTP (docs/architecture.md, "Replication"; docs/api.md):
 *   GET /_repl/pull?shard=I&after=SEQ&epoch=E&max_bytes=B&wait_ms=W&replica=ID[&history=H][&ladder=L]
 *       (L: the replica's record ladder, on its first pull after a (re)connect: record-ladder.ts)
 *       200 records | 204 none | 410 gone | 409 REPLICA_AHEAD (diverged)
 *       | 409 DIVERGED (fork in X-Distkv-Fork-Seq, the epoch that forked in X-Distkv-Epoch)
 *       | 409 STALE_LEADER (an error: the leader was deposed)
 *   GET /_repl/snapshot?shard=I&replica=ID&config=H                     a snapshot stream (snapshot-format.ts),
 *       X-Distkv-Epoch: the epoch of the leader's record at the snapshot seq,
 *       X-Distkv-History: the leader's history id (history-check.ts; also on a pull's 200 and 204)
 * `after` is the replica's ack: the leader learns acks from pulls. Responses carry the leader's
 * last seq in `X-Distkv-Leader-Seq`, its epoch in `X-Distkv-Epoch` and the epoch of the records
 * sent in `X-Distkv-Records-Epoch` (src/replication/epochs.ts). A pull that gets no answer within `wait_ms + CONTACT_GRACE_MS`
 * fails, so a leader lost behind a stalled connection is reported as disconnected (lag.ts). Any
 * other refusal of a pull is a LeaderAnswerError with its status and code (the follower retries
 * after its backoff; its log reads them, http-answer.ts), its code told to
 * `refused` first: CONFIG_MISMATCH means the leader's node routes with another config. Then, when
 * the replica knows its shard (`copy`), it reads the leader's `/cluster`: a config that gives the
 * shard the same slots and leader with this replica among its members is pulled under that
 * config's hash (leader-config.ts), at once, and until the leader refuses it again.
 * What it reads of an answer's headers and error body is in http-answer.ts; the head of every
 * request is awaited within a bound that counts the wait for a connection (head-within.ts).
 */
import { readFileSync } from 'node:fs';
import type { Pool } from 'undici';
import { MAX_FRAME_LEN } from '../storage/commit-log-format.js';
import type { SnapshotEntry } from '../storage/store-replication.js';
import { headWithin } from './head-within.js';
import {
  closingOf,
  epochHeader,
  errorOf,
  forkOf,
  historyOf,
  LeaderAnswerError,
  pullEpochsOf,
} from './http-answer.js';
import { CONTACT_GRACE_MS } from './lag.js';
import { leaderConfigFor, type ShardCopy } from './leader-config.js';
import { encodeLadder } from './record-ladder.js';
import type { PullOptions, PullResult, ReplicationSource, SnapshotStream } from './source.js';
import { SnapshotDecoder, type SnapshotItem } from './snapshot-format.js';
import { undici } from '../util/lazy-undici.js';
import { CLUSTER_DOC_BYTES, ERROR_BODY_BYTES, readBody } from '../util/peer-answer.js';

const CHUNK_BYTES = 4 * 1024 * 1024;
/**
 * MAX_PULL_BYTES is the most a leader's `/_repl/pull` reads for one answer (about: the answer ends
 * at the end of a batch, so one record of a 64 MiB value goes through whatever the bound), and so
 * the most a replica asks: `replication.pull_max_bytes` may be set up to 1 GiB, and a leader before
 * this bound was shared refused a larger `max_bytes` with 400 (its replicas never replicated).
 */
export const MAX_PULL_BYTES = 64 * 1024 * 1024;
/** BODY_IDLE_MS bounds the silence between two chunks of a pull's or a snapshot's body (and a snapshot's wait for its headers). */
const BODY_IDLE_MS = 30000;
/** CLUSTER_READ_MS bounds the read of a leader's `/cluster` after it refused a pull for its config. */
const CLUSTER_READ_MS = 2000;
/**
 * PULL_BODY_MS bounds the whole read of a pull's body once its head came: BODY_IDLE_MS alone let
 * a leader that trickles a byte now and then (broken, or hostile: slowloris) hold the replica for
 * good. A legitimate answer (at most PULL_ANSWER_SLACK_BYTES over `max_bytes`) takes far less.
 */
const PULL_BODY_MS = 120000;
/**
 * PULL_ANSWER_SLACK_BYTES is how far past `max_bytes` a pull's answer may go: it ends at the end of
 * a batch (a commit log frame, at most MAX_FRAME_LEN). More is not a leader's answer: its body is
 * refused once it passes the bound (a `Content-Length` that claims more, at once) instead of being
 * gathered until the replica runs out of memory.
 */
const PULL_ANSWER_SLACK_BYTES = MAX_FRAME_LEN;

/** HttpSourceOptions configure an HttpSource. */
export interface HttpSourceOptions {
  /** leader is the leader node's "host:port". */
  leader: string;
  shard: number;
  /** replica identifies this replica to the leader (its node address). */
  replica: string;
  token: string;
  scheme: 'http' | 'https';
  /** caFile is a PEM file of the CA(s) trusted for an https leader instead of the system's ("" or absent: the system's). */
  caFile?: string;
  /** configHash, when given, lets the leader refuse a replica that routes with another config. */
  configHash?: string;
  /**
   * copy, with configHash, is the shard as this replica's config gives it: a leader whose config
   * gives it the same is pulled under its own hash once it refused this one (leader-config.ts).
   */
  copy?: Omit<ShardCopy, 'leader' | 'replica'>;
  /**
   * refused hears the error code of each pull the leader refused (a JSON error answer other than
   * REPLICA_AHEAD and DIVERGED), e.g. CONFIG_MISMATCH from a leader with another config.
   */
  refused?: (code: string) => void;
  /** bodyIdleMs bounds the silence between two chunks of a body (default BODY_IDLE_MS; tests shorten it). */
  bodyIdleMs?: number;
  /** pullBodyMs bounds the whole read of a pull's body (default PULL_BODY_MS; tests shorten it). */
  pullBodyMs?: number;
  /** pullSlackBytes is how far past `max_bytes` a pull's body may go (default PULL_ANSWER_SLACK_BYTES; tests lower it). */
  pullSlackBytes?: number;
}

/** HttpSource pulls from a leader over HTTP. */
export class HttpSource implements ReplicationSource {
  readonly describe: string;
  private readonly o: HttpSourceOptions;
  /** pooled is the keep-alive pool to the leader, made at the first request (undici loads then). */
  private pooled: Promise<Pool> | undefined;
  /** closed is set by close(): a request after it is refused, as the destroyed pool refused it. */
  private closed = false;
  /** pullHash is the config hash requests carry: configHash, or the leader's (see leaderHash). */
  private pullHash: string | undefined;

  constructor(o: HttpSourceOptions) {
    this.o = o;
    this.pullHash = o.configHash;
    this.describe = `${o.scheme}://${o.leader} shard ${o.shard}`;
  }

  private pool(): Promise<Pool> {
    if (this.closed) return Promise.reject(new Error(`${this.describe}: the source is closed`));
    const o = this.o;
    this.pooled ??= undici().then(
      (u) =>
        new u.Pool(`${o.scheme}://${o.leader}`, {
          connections: 2,
          keepAliveTimeout: 60000,
          headersTimeout: 0,
          bodyTimeout: 0,
          ...(o.caFile === undefined || o.caFile === '' ? {} : { connect: { ca: readFileSync(o.caFile) } }),
        }),
    );
    return this.pooled;
  }

  pull(after: number, maxBytes: number, waitMs: number, options: PullOptions = {}): Promise<PullResult> {
    return this.pullOnce(after, maxBytes, waitMs, options, true);
  }

  /** pullOnce is one pull; `again`: a refusal for this replica's config may be sent once more (leaderHash). */
  private async pullOnce(
    after: number,
    maxBytes: number,
    waitMs: number,
    options: PullOptions,
    again: boolean,
  ): Promise<PullResult> {
    const { epoch = 0, history, ladder } = options;
    const pool = await this.pool();
    const askBytes = Math.min(maxBytes, MAX_PULL_BYTES);
    const what = `pull from ${this.describe}`;
    const r = await headWithin(waitMs + CONTACT_GRACE_MS, what, (signal) =>
      pool.request({
        method: 'GET',
        path: `/_repl/pull?shard=${this.o.shard}&after=${after}&epoch=${epoch}&max_bytes=${askBytes}&wait_ms=${waitMs}&replica=${encodeURIComponent(this.o.replica)}${this.configParam()}${history === undefined ? '' : `&history=${history}`}${ladder === undefined || ladder.length === 0 ? '' : `&ladder=${encodeLadder(ladder)}`}`,
        headers: this.headers(),
        headersTimeout: waitMs + CONTACT_GRACE_MS,
        bodyTimeout: this.o.bodyIdleMs ?? BODY_IDLE_MS,
        signal,
      }),
    );
    const leaderSeq = Number(r.headers['x-distkv-leader-seq'] ?? NaN);
    if (r.statusCode === 410) {
      await r.body.dump();
      return 'gone';
    }
    if (r.statusCode === 204) {
      await r.body.dump();
      return {
        records: Buffer.alloc(0),
        leaderSeq,
        ...pullEpochsOf(r.headers, what),
        ...historyOf(r.headers),
        ...closingOf(r.headers),
      };
    }
    const body =
      r.statusCode === 200
        ? await readBody(
            r,
            askBytes + (this.o.pullSlackBytes ?? PULL_ANSWER_SLACK_BYTES),
            this.o.pullBodyMs ?? PULL_BODY_MS,
            what,
          )
        : await readBody(r, ERROR_BODY_BYTES, this.o.bodyIdleMs ?? BODY_IDLE_MS, what, true);
    const error = r.statusCode === 200 ? undefined : errorOf(body);
    if (r.statusCode === 409 && error?.code === 'REPLICA_AHEAD') return 'diverged';
    if (r.statusCode === 409 && error?.code === 'DIVERGED') {
      const fork = forkOf(r.headers['x-distkv-fork-seq'], error.fork, this.describe);
      // The leader's epoch: a leader that does not send it leaves the replica to name its best guess.
      const leaderEpoch = epochHeader(r.headers['x-distkv-epoch']);
      return leaderEpoch === undefined ? { fork } : { fork, epoch: leaderEpoch };
    }
    if (r.statusCode !== 200) {
      if (error !== undefined) this.o.refused?.(error.code);
      if (again && error?.code === 'CONFIG_MISMATCH' && (await this.leaderHash()))
        return this.pullOnce(after, maxBytes, waitMs, options, false);
      throw new LeaderAnswerError(
        `pull from ${this.describe}: HTTP ${r.statusCode} ${body.toString('utf8').slice(0, 200)}`,
        r.statusCode,
        error?.code,
      );
    }
    return {
      records: body,
      leaderSeq,
      ...pullEpochsOf(r.headers, what),
      ...historyOf(r.headers),
      ...closingOf(r.headers),
    };
  }

  /** configParam is `&config=HASH` when this replica's node routes by a config (see pullHash). */
  private configParam(): string {
    return this.pullHash === undefined ? '' : `&config=${this.pullHash}`;
  }

  /**
   * leaderHash reads the leader's `/cluster` (`?replica=`: told apart from a peer check) after it
   * refused a request for its config, and pulls from then on under its hash when its config gives
   * the shard what this replica's does (leader-config.ts), else under this replica's own; resolves
   * with whether that changed (a request refused for a hash it no longer sends is worth sending
   * again at once).
   */
  private async leaderHash(): Promise<boolean> {
    const copy = this.o.copy;
    if (copy === undefined || this.o.configHash === undefined) return false;
    let doc: unknown;
    try {
      const pool = await this.pool();
      const r = await headWithin(CLUSTER_READ_MS, `/cluster of ${this.o.leader}`, (signal) =>
        pool.request({
          method: 'GET',
          path: `/cluster?replica=${encodeURIComponent(this.o.replica)}`,
          headers: this.headers(),
          headersTimeout: CLUSTER_READ_MS,
          bodyTimeout: CLUSTER_READ_MS,
          signal,
        }),
      );
      if (r.statusCode !== 200) {
        await r.body.dump();
        return false;
      }
      doc = JSON.parse(
        (await readBody(r, CLUSTER_DOC_BYTES, CLUSTER_READ_MS, `/cluster of ${this.o.leader}`)).toString(
          'utf8',
        ),
      );
    } catch {
      return false;
    }
    const next =
      leaderConfigFor(doc, { ...copy, leader: this.o.leader, replica: this.o.replica }) ?? this.o.configHash;
    if (next === this.pullHash) return false;
    this.pullHash = next;
    return true;
  }

  snapshot(): Promise<SnapshotStream> {
    return this.snapshotOnce(true);
  }

  /** snapshotOnce is one snapshot request; `again` as for pullOnce. */
  private async snapshotOnce(again: boolean): Promise<SnapshotStream> {
    // Bounded like a pull's: a leader that stops sending (paused, cut off without a reset) would
    // otherwise hold the replica, wiped and answering UNAVAILABLE, for good. A replica that is
    // slow to load does not count: the body's timer does not run while its reader applies back-pressure.
    const idleMs = this.o.bodyIdleMs ?? BODY_IDLE_MS;
    const pool = await this.pool();
    const r = await headWithin(idleMs, `snapshot from ${this.describe}`, (signal) =>
      pool.request({
        method: 'GET',
        path: `/_repl/snapshot?shard=${this.o.shard}&replica=${encodeURIComponent(this.o.replica)}${this.configParam()}`,
        headers: this.headers(),
        headersTimeout: idleMs,
        bodyTimeout: idleMs,
        signal,
      }),
    );
    if (r.statusCode !== 200) {
      const text = (
        await readBody(r, ERROR_BODY_BYTES, idleMs, `snapshot from ${this.describe}`, true)
      ).toString('utf8');
      const error = errorOf(Buffer.from(text));
      if (error !== undefined) this.o.refused?.(error.code);
      if (again && error?.code === 'CONFIG_MISMATCH' && (await this.leaderHash()))
        return this.snapshotOnce(false);
      throw new LeaderAnswerError(
        `snapshot from ${this.describe}: HTTP ${r.statusCode} ${text.slice(0, 200)}`,
        r.statusCode,
        error?.code,
      );
    }
    // An epoch header that is none (past MAX_EPOCH, too) is read as absent: the replica keeps its own.
    const epoch = epochHeader(r.headers['x-distkv-epoch']);
    const decoder = new SnapshotDecoder();
    const iterator = r.body[Symbol.asyncIterator]();
    // The body is let go (destroyed unless it ended) once the snapshot ends or fails: a stream that
    // goes on after its end, or after what cannot be read, kept one of the pool's two connections
    // busy for good, and after two such resyncs the pulls waited for one with no timeout running.
    const release = (): void => {
      r.body.on('error', () => undefined);
      iterator.return?.().catch(() => undefined);
    };
    const describe = this.describe;
    // What the decoder refuses (a crc that fails, a length past a value's bound) names the leader:
    // the follower logs it as the reason its resync failed, and tries again.
    const push = (chunk: Buffer): SnapshotItem[] => {
      try {
        return decoder.push(chunk);
      } catch (err) {
        throw new Error(`snapshot from ${describe}: ${(err as Error).message}`, { cause: err });
      }
    };
    let first: SnapshotItem[] = [];
    try {
      while (decoder.seq === undefined) {
        const next = await iterator.next();
        if (next.done === true)
          throw new Error(`snapshot from ${this.describe}: the stream ended before its header`);
        first = push(next.value as Buffer);
      }
    } catch (err) {
      release();
      throw err;
    }
    // Entries are gathered into chunks of about CHUNK_BYTES, so the replica writes large transactions.
    async function* chunks(): AsyncGenerator<SnapshotEntry[], void, undefined> {
      let batch: SnapshotEntry[] = [];
      let bytes = 0;
      const take = (entries: SnapshotItem[]): void => {
        for (const e of entries) {
          batch.push({ ...e, key: Buffer.from(e.key), value: Buffer.from(e.value) });
          bytes += e.key.length + e.value.length;
        }
      };
      try {
        take(first);
        while (!decoder.done) {
          const next = await iterator.next();
          if (next.done === true) throw new Error(`snapshot from ${describe}: the stream ended early`);
          take(push(next.value as Buffer));
          if (bytes >= CHUNK_BYTES) {
            yield batch;
            batch = [];
            bytes = 0;
          }
        }
      } finally {
        release();
      }
      if (batch.length > 0) yield batch;
    }
    const seq = decoder.seq;
    // Its iterator's return() lets the body go even before the first chunk was asked for (a
    // generator not started runs no `finally`): a load that failed before it read (its store's
    // rebuild failed) left a large body unread, its connection held by back-pressure for good.
    const gen = chunks();
    const iterable: AsyncIterable<SnapshotEntry[]> = {
      [Symbol.asyncIterator]: () => ({
        next: () => gen.next(),
        return: () => {
          release();
          return gen.return(undefined);
        },
      }),
    };
    return {
      seq,
      ...(epoch === undefined ? {} : { epoch }),
      ...historyOf(r.headers),
      chunks: iterable,
      ...(this.o.copy === undefined ? {} : { slots: { first: this.o.copy.first, last: this.o.copy.last } }),
      exactSeq: () => decoder.exactSeq ?? seq,
    };
  }

  /** close aborts requests in flight (a long poll to an unreachable leader would otherwise hang). */
  async close(): Promise<void> {
    this.closed = true;
    await (await this.pooled)?.destroy();
  }

  private headers(): Record<string, string> {
    return this.o.token === '' ? {} : { authorization: `Bearer ${this.o.token}` };
  }
}
