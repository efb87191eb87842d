/**
 * RespRecorder runs single-key commands through an ioredis `Cluster` client (docs/resp.md) and
 * records each as an operation of a history for the linearizability checker
 * (test/helpers/linearizability.ts), as HistoryRecorder does for the HTTP client library. RESP
 * answers carry no versions: a `GET` is 'found' with its value alone (values are unique per write,
 * so the value names the write), a `SET` is 'ok' without a version, `SET NX` answering nil is
 * 'failed' (the key existed), `DEL` answering 0 or 1 says whether the key existed.
 *
 * What an error means for the history (the client follows -MOVED and -ASK itself, and retries
 * -TRYAGAIN after a pause; `respClusterClient` turns off its resending of commands whose
 * connection closed, which could apply a write twice):
 * - a read that fails constrains nothing and is not recorded;
 * - a write that gave up on redirections whose last answer was -MOVED or -ASK was not run (those
 *   answers come from routing, before the command runs) and is not recorded;
 * - any other write error is 'unknown': a timeout or a closed connection after the command was
 *   sent, and -TRYAGAIN / -CLUSTERDOWN / -ERR too, since docs/resp.md does not promise those were
 *   not executed (a worker's UNAVAILABLE answers TRYAGAIN, and may come after the write ran).
 *
 * INCR on a counter key is recorded apart (`counter`): its answers, and how many failed.
 */
import { Cluster } from 'ioredis';
import type { Op, OpInput, OpOutput } from './linearizability.js';
import { respOf } from './resp.js';

/** respClusterClient is an ioredis Cluster client seeded with `nodes`' RESP addresses, set up so that it never sends a write twice. */
export function respClusterClient(nodes: readonly string[]): Cluster {
  const client = new Cluster(
    nodes.map((n) => respOf(n)),
    {
      clusterRetryStrategy: () => 100,
      retryDelayOnTryAgain: 50,
      retryDelayOnClusterDown: 100,
      // A command whose connection closed is failed, not resent: it may have run.
      retryDelayOnFailover: 0,
      maxRedirections: 32,
      slotsRefreshTimeout: 3000,
      redisOptions: {
        connectTimeout: 2000,
        commandTimeout: 5000,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
      },
    },
  );
  client.on('error', () => undefined);
  return client;
}

/** Counter is what the INCRs of one key were told. */
export interface Counter {
  /** acked are the values acknowledged INCRs answered. */
  acked: number[];
  /** unknown counts INCRs that failed: applied or not. */
  unknown: number;
}

/** notRun says whether a write's error says it was never run (only routing redirections do). */
function notRun(e: unknown): boolean {
  const m = e instanceof Error ? e.message : '';
  return /^Too many Cluster redirections\. Last error: ReplyError: (MOVED|ASK) /.test(m);
}

/** RespRecorder records the operations run through it. */
export class RespRecorder {
  readonly ops: Op[] = [];
  /** errors counts the errors seen by their first word, for a test's report. */
  readonly errors = new Map<string, number>();
  readonly counter: Counter = { acked: [], unknown: 0 };
  /** samples holds the first few distinct error messages, for a test's report. */
  readonly samples = new Set<string>();

  private count(e: unknown): void {
    const word = e instanceof Error ? e.message.split(' ')[0]! : 'unknown';
    if (this.samples.size < 5 && e instanceof Error) this.samples.add(e.message.slice(0, 160));
    this.errors.set(word, (this.errors.get(word) ?? 0) + 1);
  }

  private record(client: string, key: string, call: number, input: OpInput, output: OpOutput): void {
    this.ops.push({ key, call, ret: performance.now(), input, output, client });
  }

  /** get reads `key`: its value, null when absent, undefined when the read failed. */
  async get(redis: Cluster, client: string, key: string): Promise<string | null | undefined> {
    const call = performance.now();
    try {
      const v = await redis.get(key);
      this.record(
        client,
        key,
        call,
        { kind: 'get' },
        v === null ? { kind: 'absent' } : { kind: 'found', value: v },
      );
      return v;
    } catch (e) {
      this.count(e);
      return undefined;
    }
  }

  /** set writes `value` (only if the key is missing with `nx`). */
  async set(redis: Cluster, client: string, key: string, value: string, nx = false): Promise<void> {
    const input: OpInput = nx ? { kind: 'put', value, ifNoneMatch: true } : { kind: 'put', value };
    await this.write(client, key, input, async () => {
      const r = nx ? await redis.set(key, value, 'NX') : await redis.set(key, value);
      return r === 'OK' ? { kind: 'ok' } : { kind: 'failed' };
    });
  }

  /** del removes `key`. */
  async del(redis: Cluster, client: string, key: string): Promise<void> {
    await this.write(client, key, { kind: 'delete' }, async () => ({
      kind: 'ok',
      existed: (await redis.del(key)) === 1,
    }));
  }

  /** incr adds one to the counter `key`. */
  async incr(redis: Cluster, key: string): Promise<void> {
    try {
      this.counter.acked.push(await redis.incr(key));
    } catch (e) {
      this.count(e);
      if (!notRun(e)) this.counter.unknown++;
    }
  }

  private async write(
    client: string,
    key: string,
    input: OpInput,
    run: () => Promise<OpOutput>,
  ): Promise<void> {
    const call = performance.now();
    try {
      this.record(client, key, call, input, await run());
    } catch (e) {
      this.count(e);
      if (!notRun(e)) this.record(client, key, call, input, { kind: 'unknown' });
    }
  }
}
