/**
 * The bank test's accounts and transfers (test/e2e/bank-*.test.ts; Jepsen's bank test): five
 * accounts in one slot (the `{bank}` hash tag, so one shard) holding 100 each, and loops that move
 * money between two of them with one conditional batch each (docs/api.md, "Batches with
 * conditions": all or nothing). A transfer reads both balances with their versions and writes both
 * with `ifMatch`: a balance never goes below 0, and a batch applied whole never changes the sum.
 * Only a batch applied in part (or seen in part) could show a sum other than TOTAL: the readers
 * (bank-readers.ts) look for that.
 */
import assert from 'node:assert/strict';
import type { DistkvClient } from '../../src/client/client.js';
import { wireOp } from '../../src/client/batch-wire.js';
import type { BatchOp, BatchResult } from '../../src/client/types.js';
import { dumpAt, waitFor } from './failover-model.js';
import { seededRandom } from './random.js';

/** ACCOUNTS are the account keys, all in one slot. */
export const ACCOUNTS = ['{bank}0', '{bank}1', '{bank}2', '{bank}3', '{bank}4'] as const;
/** OPENING is each account's opening balance. */
export const OPENING = 100;
/** TOTAL is the money in the bank: it never changes. */
export const TOTAL = OPENING * ACCOUNTS.length;

/** WIDE pads each balance to 3000 digits: a transfer's batch is then about 6 KB. */
export const WIDE = 3000;

/**
 * SMALL_LIMITS is the config at the smallest limits (with WIDE balances): 64 KiB memtables (a
 * flush every few transfers, runs compacted at two), 64 KiB log segments kept no longer than
 * recovery needs (a replica that falls behind resyncs from a snapshot), a 64 KiB replication ring
 * (lapped) and 1 KiB pulls (a pull ends past its limit, at the end of a batch: docs/api.md).
 */
export const SMALL_LIMITS = `[storage]
memtable_bytes = 65536
wal_segment_bytes = 65536
wal_retention_bytes = 0
max_runs = 2
[replication]
ring_bytes = 65536
pull_max_bytes = 1024
pull_wait_ms = 200
`;

/**
 * balanceText writes a balance as decimal digits, padded with leading zeros to `width` (a large
 * value fills memtables, logs and pulls fast; Number() reads it back).
 */
export function balanceText(balance: number, width: number): string {
  return String(balance).padStart(width, '0');
}

/**
 * openAccounts creates every account with its opening balance (`width` digits) in one batch with
 * conditions (create only), so a reader sees all of them or none: a replica that has not caught up
 * with the opening yet holds no account, never some.
 */
export async function openAccounts(client: DistkvClient, width = 1): Promise<void> {
  const results = await client.batch(
    ACCOUNTS.map((key) => ({ op: 'set', key, value: balanceText(OPENING, width), ifNoneMatch: true })),
  );
  assert.deepEqual(
    results.filter((r) => !r.ok),
    [],
    'the accounts were opened',
  );
}

/** Outcome is what a transfer's batch answered: applied, refused (a condition failed), unknown, or another error. */
export type Outcome = 'ok' | 'conflict' | 'unknown' | 'failed';

/** LOST is the code a sender gives when the answer was lost on the way: the batch may have been applied. */
const LOST = 'ANSWER_LOST';

/** BatchSender sends one conditional batch and resolves with each operation's error code (undefined: applied). */
export type BatchSender = (ops: BatchOp[]) => Promise<(string | undefined)[]>;

/** outcomeOf reads a batch's codes: a failed condition is a retry, an unreachable owner or a lost answer an unknown outcome. */
export function outcomeOf(codes: readonly (string | undefined)[]): Outcome {
  if (codes.every((c) => c === undefined)) return 'ok';
  if (codes.some((c) => c === 'PRECONDITION_FAILED' || c === 'BATCH_ABORTED')) return 'conflict';
  if (codes.some((c) => c === 'SHARD_UNREACHABLE' || c === 'OUTCOME_UNKNOWN' || c === LOST)) return 'unknown';
  return 'failed';
}

/** viaClient sends the batch with the client library's `batch()` (to the shard's leader). */
export function viaClient(client: DistkvClient): BatchSender {
  return async (ops) => {
    const results: BatchResult[] = await client.batch(ops);
    return results.map((r) => (r.ok ? undefined : r.error.code));
  };
}

/**
 * viaNode posts the batch to `node` itself, which may not own the shard: it then forwards the
 * batch whole (docs/api.md). An answer lost on the way is an unknown outcome.
 */
export function viaNode(node: string): BatchSender {
  return async (ops) => {
    let doc: { results?: { ok: boolean; error?: { code: string } }[]; error?: { code: string } };
    try {
      const r = await fetch(`http://${node}/kv/_batch`, {
        method: 'POST',
        body: JSON.stringify(ops.map(wireOp)),
        signal: AbortSignal.timeout(15000),
      });
      doc = (await r.json()) as typeof doc;
    } catch {
      return [LOST];
    }
    // Refused whole (a 503 while a failover switches the leader, say): nothing was applied.
    if (doc.results === undefined) return [doc.error?.code ?? 'NO_RESULTS'];
    return doc.results.map((r) => (r.ok ? undefined : (r.error?.code ?? 'NO_CODE')));
  };
}

/** TransferCounts counts the transfers by outcome, and the rounds whose reads failed. */
export type TransferCounts = Record<Outcome | 'readFailed', number>;

/** TransferOptions bound the transfers and size their balances. */
export interface TransferOptions {
  /** max bounds the transfers of all loops together (default 20000). */
  max?: number;
  /** maxMs bounds how long the loops run (default 60 s). */
  maxMs?: number;
  /** width pads each balance written to that many digits (default 1: no padding). */
  width?: number;
}

/**
 * Transfers runs `senders.length` loops, each moving a random amount between two random accounts
 * through its sender; bounded by `max` transfers in all and by `maxMs`, and stopped by `stop`.
 */
export class Transfers {
  readonly counts: TransferCounts = { ok: 0, conflict: 0, unknown: 0, failed: 0, readFailed: 0 };
  /** failedCodes counts the codes of the transfers that failed otherwise (neither a condition nor an unknown outcome). */
  readonly failedCodes = new Map<string, number>();
  /** applied counts each loop's applied transfers (by its sender's index). */
  readonly applied: number[];
  private stopped = false;
  private n = 0;
  private readonly loops: Promise<void>[];

  constructor(client: DistkvClient, senders: readonly BatchSender[], seed: number, o: TransferOptions = {}) {
    const { max = 20000, maxMs = 60000, width = 1 } = o;
    const deadline = performance.now() + maxMs;
    this.applied = senders.map(() => 0);
    this.loops = senders.map(async (send, i) => {
      const random = seededRandom(seed + i);
      while (!this.stopped && this.n < max && performance.now() < deadline) {
        this.n++;
        const a = ACCOUNTS[Math.floor(random() * ACCOUNTS.length)]!;
        const others = ACCOUNTS.filter((k) => k !== a);
        const b = others[Math.floor(random() * others.length)]!;
        let from, to;
        try {
          [from, to] = await Promise.all([client.getVersioned(a), client.getVersioned(b)]);
        } catch {
          this.counts.readFailed++;
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        assert.ok(from !== undefined && to !== undefined, `accounts ${a} and ${b} exist`);
        const fromBalance = Number(from.value.toString());
        const amount = Math.floor(random() * (fromBalance + 1));
        const codes: (string | undefined)[] = await send([
          { op: 'set', key: a, value: balanceText(fromBalance - amount, width), ifMatch: from.version },
          {
            op: 'set',
            key: b,
            value: balanceText(Number(to.value.toString()) + amount, width),
            ifMatch: to.version,
          },
        ]).catch((err: unknown) => [`thrown: ${String(err)}`]);
        const outcome = outcomeOf(codes);
        this.counts[outcome]++;
        if (outcome === 'failed')
          for (const c of new Set(codes.filter((x): x is string => x !== undefined)))
            this.failedCodes.set(c, (this.failedCodes.get(c) ?? 0) + 1);
        if (outcome === 'ok') this.applied[i]!++;
      }
    });
  }

  /**
   * until waits for `count` applied transfers, failing after `ms`; given `atLeast`, it waits at
   * most `ms` for `count` and fails only when fewer than `atLeast` applied (a loaded machine's
   * slower transfers still make a test whose readers watch the whole run).
   */
  async until(count: number, ms = 30000, atLeast?: number): Promise<void> {
    if (atLeast === undefined) {
      await waitFor(`${count} applied transfers`, () => Promise.resolve(this.counts.ok >= count), ms);
      return;
    }
    const deadline = performance.now() + ms;
    while (this.counts.ok < count && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(
      this.counts.ok >= atLeast,
      `${this.counts.ok} transfers applied in ${ms} ms, fewer than ${atLeast}`,
    );
  }

  /** stop ends the loops; it resolves with a line of counts for the test's output. */
  async stop(): Promise<string> {
    this.stopped = true;
    await Promise.all(this.loops);
    return `transfers ${JSON.stringify(this.counts)}, failed by code ${JSON.stringify([...this.failedCodes])}`;
  }
}

/** balancesOf reads the accounts out of a key → value map, in account order (NaN for a missing one). */
export function balancesOf(values: ReadonlyMap<string, string>): number[] {
  return ACCOUNTS.map((k) => Number(values.get(k) ?? NaN));
}

/** sound tells whether `balances` are all the accounts, none negative, summing to TOTAL. */
export function sound(balances: readonly number[]): boolean {
  return (
    balances.length === ACCOUNTS.length &&
    balances.every((b) => Number.isInteger(b) && b >= 0) &&
    balances.reduce((s, b) => s + b, 0) === TOTAL
  );
}

/**
 * expectSameCopies waits (up to `ms`) until every node in `nodes` serves the same content (dumpAt:
 * a leader's address its leader, a replica's its replica), then checks the bank's books there.
 */
export async function expectSameCopies(nodes: readonly string[], ms = 30000): Promise<void> {
  let last: Map<string, string>[] = [];
  const same = (): boolean => last.every((m) => JSON.stringify([...m]) === JSON.stringify([...last[0]!]));
  await waitFor(
    `${nodes.join(', ')} to hold the same content`,
    async () => {
      try {
        last = await Promise.all(nodes.map((n) => dumpAt(n)));
      } catch {
        return false; // a replica that rebuilds from a snapshot answers 503 meanwhile
      }
      return same();
    },
    ms,
  ).catch(() => {
    assert.deepEqual(
      last.map((m) => balancesOf(m)),
      last.map(() => balancesOf(last[0]!)),
      'copies differ',
    );
    assert.fail('the copies differ outside the accounts');
  });
  const balances = balancesOf(last[0]!);
  assert.ok(sound(balances), `the books balance at the end: ${balances.join(' ')}`);
}
