/**
 * The bank test's readers (test/e2e/bank-*.test.ts): each reads ALL accounts in ONE step of the
 * node that serves it, so a batch applied (or replicated) in part shows as a sum other than TOTAL:
 *  - a scan page of prefix `{bank}` (one shard, so one part: the shard's worker reads the page in
 *    one synchronous call, src/worker/shard-host.ts `scan`), at a leader (`leader=1`) or at a
 *    replica's address (served by that replica);
 *  - RESP `MGET` of the five keys (one slot, so one store: its GETs go into one worker batch, run
 *    in one turn: src/resp/gather.ts), on the leader, or on a replica after `READONLY`;
 *  - the client library's `scanPage` (its one multi-key read), with or without `replicaReads`.
 * A reader gives undefined when the node refused the read (a failover moving the leader, say) or
 * holds no account yet (a replica behind the opening batch, bank.ts `openAccounts`): no sample.
 * Every sample is checked: all five accounts, none negative, the sum TOTAL.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { DistkvClient } from '../../src/client/client.js';
import { ACCOUNTS, balancesOf, sound, type Transfers } from './bank.js';
import { waitFor } from './failover-model.js';
import { respOf } from './resp.js';
import { RespConn } from './resp-conn.js';

/** Reader reads every account in one step, or gives undefined when refused or before the opening. */
export interface Reader {
  name: string;
  read(): Promise<number[] | undefined>;
  close(): void;
}

/** scanReader reads one scan page at `node`: its leader's copy with `leader`, else what the address serves. */
export function scanReader(node: string, leader: boolean): Reader {
  return {
    name: `scan ${leader ? 'leader=1' : 'local'} at ${node}`,
    async read() {
      const r = await fetch(`http://${node}/kv?prefix=%7Bbank%7D&limit=100${leader ? '&leader=1' : ''}`, {
        signal: AbortSignal.timeout(15000),
      });
      const page = (await r.json()) as { items?: { key: string; value: string }[] };
      if (r.status !== 200 || page.items === undefined) return undefined;
      return balancesOf(new Map(page.items.map((i) => [i.key, i.value])));
    },
    close() {},
  };
}

/** clientScanReader reads one page with the client library's scanPage. */
export function clientScanReader(client: DistkvClient, name: string): Reader {
  return {
    name,
    async read() {
      const page = await client.scanPage('{bank}', { limit: 100 });
      return balancesOf(new Map(page.items.map((i) => [i.key, i.value.toString()])));
    },
    close() {},
  };
}

/** mgetValues reads an MGET reply (latin1 text) as numbers (NaN for a nil), or undefined for an error reply. */
function mgetValues(reply: string): number[] | undefined {
  if (!reply.startsWith('*')) return undefined;
  const lines = reply.split('\r\n');
  const out: number[] = [];
  for (let i = 1; out.length < Number(lines[0]!.slice(1));) {
    if (lines[i] === '$-1' || lines[i] === '_') {
      out.push(NaN);
      i += 1;
    } else {
      out.push(Number(lines[i + 1]));
      i += 2;
    }
  }
  return out;
}

/**
 * respReader reads with `MGET` over one RESP connection to `node` (after `READONLY` when
 * `readonly`), reconnecting after a failure; a `-MOVED` (the leader moved) sends it to the address named.
 */
export function respReader(node: string, readonly: boolean): Reader {
  let at = respOf(node);
  let conn: RespConn | undefined;
  const drop = (): void => {
    conn?.close();
    conn = undefined;
  };
  return {
    name: `MGET ${readonly ? 'after READONLY ' : ''}at ${node}`,
    async read() {
      try {
        if (conn === undefined) {
          conn = await RespConn.open(at);
          if (readonly) await conn.send([['READONLY']], 10000);
        }
        const [reply] = await conn.send([['MGET', ...ACCOUNTS]], 10000);
        const moved = /^-MOVED \d+ (.+):(\d+)\r\n/.exec(reply!);
        if (moved !== null) {
          at = { host: moved[1]!, port: Number(moved[2]) };
          drop();
        }
        return mgetValues(reply!);
      } catch {
        drop();
        return undefined;
      }
    },
    close: drop,
  };
}

/**
 * expectSameAccounts waits (up to `ms`) until every reader gives the same balances (a replica
 * caught up with its leader), then checks the books there.
 */
export async function expectSameAccounts(readers: readonly Reader[], ms = 30000): Promise<void> {
  let seen: (number[] | undefined)[] = [];
  const same = (): boolean => seen.every((b) => b !== undefined && b.join() === seen[0]!.join());
  await waitFor(
    `${readers.map((r) => r.name).join(', ')} to read the same balances`,
    async () => {
      seen = await Promise.all(readers.map((r) => r.read().catch(() => undefined)));
      return same();
    },
    ms,
  ).catch((err: unknown) => {
    assert.fail(`${String(err)}: last read ${JSON.stringify(seen)}`);
  });
  assert.ok(sound(seen[0]!), `the books balance at the end: ${seen[0]!.join(' ')}`);
}

/** READS is how many samples underLoad waits for from every reader. */
const READS = 30;

/** Violation is a read that saw the books unbalanced. */
export interface Violation {
  reader: string;
  balances: number[];
  /** atMs is when the read was answered (performance.now(), to place it among a test's events). */
  atMs: number;
}

/**
 * Readers runs each reader in its own loop (bounded by `max` reads each and `maxMs`) until
 * stopped, counting samples and refusals and keeping the reads that saw the books unbalanced.
 */
export class Readers {
  readonly samples = new Map<string, number>();
  readonly refused = new Map<string, number>();
  readonly violations: Violation[] = [];
  private stopped = false;
  private readonly loops: Promise<void>[];
  private readonly readers: readonly Reader[];

  constructor(readers: readonly Reader[], max = 20000, maxMs = 60000) {
    this.readers = readers;
    const deadline = performance.now() + maxMs;
    this.loops = readers.map(async (r) => {
      // opened: this reader saw the accounts; from then on a read without them is checked too.
      let opened = false;
      for (let i = 0; i < max && !this.stopped && performance.now() < deadline; i++) {
        const balances = await r.read().catch(() => undefined);
        opened ||= balances?.some((b) => !Number.isNaN(b)) === true;
        if (balances === undefined || !opened) {
          this.refused.set(r.name, (this.refused.get(r.name) ?? 0) + 1);
          await new Promise((done) => setTimeout(done, 20));
          continue;
        }
        this.samples.set(r.name, (this.samples.get(r.name) ?? 0) + 1);
        if (!sound(balances))
          this.violations.push({ reader: r.name, balances, atMs: Math.round(performance.now()) });
      }
    });
  }

  /** until waits until every reader has `count` samples (failing after `ms`, naming the readers still short of it). */
  async until(count: number, ms = 30000): Promise<void> {
    const short = (): string[] =>
      this.readers.map((r) => r.name).filter((n) => (this.samples.get(n) ?? 0) < count);
    await waitFor(`${count} reads from every reader`, () => Promise.resolve(short().length === 0), ms).catch(
      (err: unknown) => {
        assert.fail(`${String(err)}: short of it ${short().join('; ')}`);
      },
    );
  }

  /** expectBalanced fails when a read saw the books unbalanced, counting such reads by reader. */
  expectBalanced(): void {
    const by = new Map<string, number>();
    for (const v of this.violations) by.set(v.reader, (by.get(v.reader) ?? 0) + 1);
    assert.deepEqual(
      this.violations.slice(0, 5),
      [],
      `${this.violations.length} reads saw the books unbalanced: ${[...by].map(([r, n]) => `${r}: ${n}`).join('; ')}`,
    );
  }

  /** stop ends the loops and closes the readers; it resolves with a line per reader for the test's output. */
  async stop(): Promise<string[]> {
    this.stopped = true;
    await Promise.all(this.loops);
    for (const r of this.readers) r.close();
    return this.readers.map(
      (r) => `${r.name}: ${this.samples.get(r.name) ?? 0} reads, ${this.refused.get(r.name) ?? 0} refused`,
    );
  }
}

/**
 * underLoad runs the test's `steps` while `transfers` and `readers` run, then waits for READS
 * samples from every reader, stops both, reports their counts on `t` and checks that no read saw
 * the books unbalanced.
 */
export async function underLoad(
  t: TestContext,
  transfers: Transfers,
  readers: Readers,
  steps: () => Promise<void>,
): Promise<void> {
  try {
    await steps();
    await readers.until(READS);
  } finally {
    t.diagnostic(await transfers.stop());
    for (const line of await readers.stop()) t.diagnostic(line);
  }
  readers.expectBalanced();
}
