/**
 * LinLoad: the workload of the linearizability scenarios (test/e2e/lin-*.test.ts). A few hot keys,
 * many concurrent loops in the test process, each a bounded count of random single-key operations
 * (get 40 %, put 25 %, compare-and-set put with ifMatch the version this loop last saw 15 %, create
 * only put 5 %, delete 10 %, compare-and-set delete 5 %) with values unique per write
 * (`<loop>-<n>`), every one recorded by a HistoryRecorder for the checker
 * (test/helpers/linearizability.ts). A loop stops at its count, at the deadline or when stopped.
 *
 * Besides the client library, a loop may send a share of its operations itself (`raw`): a
 * single-key request with fetch to a node the caller picks (a node that does not own the key
 * answers 307, which fetch follows as the library does), or a one-operation `POST /kv/_batch`,
 * which a node that does not lead the key's shard forwards to its owner (docs/api.md) rather
 * than redirects: a path the library never takes. Those are recorded here in the same history.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { HistoryRecorder, notRun, type ReadOptions, type WriteOptions } from './history-recorder.js';
import { checkHistory, type Op, type ClientOpInput, type OpOutput } from './linearizability.js';
import { seededRandom } from './random.js';

/** LinLoadOptions configure runLinLoad. */
export interface LinLoadOptions {
  seed: number;
  keys: readonly string[];
  loops: number;
  /** opsPerLoop bounds each loop's operations. */
  opsPerLoop: number;
  /** clientOf gives loop `i` its client (its own, or one shared by several loops). */
  clientOf: (loop: number) => DistkvClient;
  /** maxMs bounds the whole load (each loop stops at that deadline). */
  maxMs: number;
  /** pauseMs gives loop `i` the most it sleeps before each operation (default 0): such a loop may sleep through a failover, its client's map then stale. */
  pauseMs?: (loop: number) => number;
  /** wShare is the share of the library's writes sent with `w: 1` (default 0). */
  wShare?: number;
  /** write is the concern every library write carries (lin-fault-load.ts: `w: 1` with a timeout). */
  write?: Pick<WriteOptions, 'w' | 'timeoutMs'>;
  /** read is the concern every library read carries (default none: a plain read). */
  read?: ReadOptions;
  /** errorPauseMs is how long a loop waits after an operation that failed or whose outcome is unknown (default 0). */
  errorPauseMs?: number;
  /** raw: a share of operations sent with fetch to `nodeOf(key, pick)` ('single' or 'batch' requests). */
  raw?: {
    share: number;
    nodeOf: (key: string, pick: number) => string;
    kinds: readonly RawKind[];
    /** writeQuery is added to a single-key write's URL (e.g. `w=1&timeout_ms=3000`). */
    writeQuery?: string;
  };
}

/** RawKind is how a raw operation is sent: a key request, or a one-operation batch. */
export type RawKind = 'single' | 'batch';

/** LinLoad is a running load: `stop` ends its loops early, `done` resolves when they end. */
export interface LinLoad {
  recorder: HistoryRecorder;
  /** count is how many operations the loops have run so far. */
  count: () => number;
  stop: () => void;
  done: Promise<void>;
}

/** startLinLoad starts the loops. */
export function startLinLoad(o: LinLoadOptions): LinLoad {
  const recorder = new HistoryRecorder();
  const deadline = performance.now() + o.maxMs;
  let stopped = false;
  let ran = 0;
  const loop = async (i: number): Promise<void> => {
    const rand = seededRandom(o.seed + i * 7919);
    const kv = o.clientOf(i);
    const name = `c${i}`;
    const seen = new Map<string, string>(); // key → the last version this loop saw
    const saw = (key: string, version: string | null | undefined): void => {
      if (typeof version === 'string') seen.set(key, version);
    };
    for (let n = 0; n < o.opsPerLoop && !stopped && performance.now() < deadline; n++, ran++) {
      const pause = o.pauseMs?.(i) ?? 0;
      if (pause > 0) await new Promise((r) => setTimeout(r, Math.floor(rand() * pause)));
      const key = o.keys[Math.floor(rand() * o.keys.length)]!;
      const value = `${i}-${n}`;
      const r = rand();
      const last = seen.get(key);
      const input: ClientOpInput =
        r < 0.4 || (r >= 0.65 && r < 0.8 && last === undefined) || (r >= 0.95 && last === undefined)
          ? { kind: 'get' }
          : r < 0.65
            ? { kind: 'put', value }
            : r < 0.8
              ? { kind: 'put', value, ifMatch: last! }
              : r < 0.85
                ? { kind: 'put', value, ifNoneMatch: true }
                : r < 0.95
                  ? { kind: 'delete' }
                  : { kind: 'delete', ifMatch: last! };
      const how =
        o.raw !== undefined && rand() < o.raw.share
          ? o.raw.kinds[Math.floor(rand() * o.raw.kinds.length)]
          : undefined;
      // A batch carries writes only: a read goes through the library then.
      if (how !== undefined && (how === 'single' || input.kind !== 'get')) {
        const op = await rawOp(
          recorder,
          o.raw!.nodeOf(key, rand()),
          name,
          key,
          input,
          how,
          o.raw!.writeQuery,
        );
        if (op !== undefined) saw(key, versionOf(op.output));
        continue;
      }
      const options: WriteOptions = { ...o.write };
      if (input.kind !== 'get' && input.ifMatch !== undefined) options.ifMatch = input.ifMatch;
      if (input.kind === 'put' && input.ifNoneMatch === true) options.ifNoneMatch = true;
      if (input.kind !== 'get' && o.wShare !== undefined && rand() < o.wShare) options.w = 1;
      let answered: unknown;
      if (input.kind === 'get') {
        answered = await recorder.get(kv, name, key, o.read);
        saw(key, (answered as { version: string } | null | undefined)?.version);
      } else if (input.kind === 'put') {
        const got = (answered = await recorder.put(kv, name, key, value, options));
        saw(key, got === 'failed' ? currentOf(recorder, name) : got?.version);
      } else if ((answered = await recorder.delete(kv, name, key, options)) === 'failed') {
        saw(key, currentOf(recorder, name));
      }
      if (answered === undefined && (o.errorPauseMs ?? 0) > 0)
        await new Promise((r) => setTimeout(r, o.errorPauseMs));
    }
  };
  const done = Promise.all(Array.from({ length: o.loops }, (_, i) => loop(i))).then(() => undefined);
  return {
    recorder,
    count: () => ran,
    stop: () => {
      stopped = true;
    },
    done,
  };
}

/** currentOf is the version named by `client`'s last recorded operation, a 412 (undefined when it named none). */
function currentOf(recorder: HistoryRecorder, client: string): string | undefined {
  const op = recorder.ops.findLast((o) => o.client === client);
  return op === undefined ? undefined : versionOf(op.output);
}

/** versionOf is the version an answer names, if any. */
export function versionOf(out: OpOutput | undefined): string | undefined {
  if (out === undefined) return undefined;
  if (out.kind === 'found' || out.kind === 'ok') return out.version;
  if (out.kind === 'failed' && typeof out.current === 'string') return out.current;
  return undefined;
}

/**
 * loopClients gives each of `loops` loops its client: `shared` where `nodeOf(i)` is undefined, else
 * one of its own that loads the map from that node ("host:port"), pushed on `made` for the test to close.
 */
export function loopClients(
  loops: number,
  nodeOf: (loop: number) => string | undefined,
  shared: DistkvClient | undefined,
  made: DistkvClient[],
): DistkvClient[] {
  return Array.from({ length: loops }, (_, i) => {
    const node = nodeOf(i);
    if (node === undefined) {
      if (shared === undefined) throw new Error(`loop ${i} has neither a node nor a shared client`);
      return shared;
    }
    const c = new DistkvClient({ urls: [`http://${node}`] });
    made.push(c);
    return c;
  });
}

/** readAll reads every key once through `kv`, recorded: the history's last word on each key. */
export async function readAll(
  recorder: HistoryRecorder,
  kv: DistkvClient,
  keys: readonly string[],
): Promise<void> {
  for (const key of keys) await recorder.get(kv, 'final', key);
}

/** HistoryFigures count what a history holds, for a test to show it was not trivial. */
export interface HistoryFigures {
  ops: number;
  reads: number;
  found: number;
  writesOk: number;
  casOk: number;
  failed: number;
  unknown: number;
  /** single and batch count the raw operations sent each way (rawOp). */
  single: number;
  batch: number;
  /** after counts the operations called after `since`. */
  after: number;
}

/** figuresOf counts a history's client operations (not its failover ops) by kind, outcome and path; `since` splits them in time. */
export function figuresOf(ops: readonly Op[], since = Infinity): HistoryFigures {
  const f: HistoryFigures = {
    ops: 0,
    reads: 0,
    found: 0,
    writesOk: 0,
    casOk: 0,
    failed: 0,
    unknown: 0,
    single: 0,
    batch: 0,
    after: 0,
  };
  for (const op of ops) {
    if (op.input.kind === 'failover') continue;
    f.ops++;
    if (op.call > since) f.after++;
    if (op.client?.includes('/single@') === true) f.single++;
    if (op.client?.includes('/batch@') === true) f.batch++;
    const out = op.output.kind;
    if (op.input.kind === 'get') {
      f.reads++;
      if (out === 'found') f.found++;
      continue;
    }
    if (out === 'ok') {
      f.writesOk++;
      if (op.input.ifMatch !== undefined) f.casOk++;
    } else if (out === 'failed') f.failed++;
    else if (out === 'unknown') f.unknown++;
  }
  return f;
}

/**
 * expectLinearizable checks the history `recorder` holds, tells the test its figures (with the
 * seed, `note` and the errors seen), and fails with the checker's report when no order explains
 * it, or when it is too trivial to say much: fewer than `minOps` operations, fewer than 10
 * compare-and-set writes applied or 10 refused (412), fewer than 50 reads that found a value.
 * Returns the figures and that text, for the test's own checks.
 */
export function expectLinearizable(
  t: TestContext,
  recorder: HistoryRecorder,
  seed: number,
  minOps: number,
  note = '',
): { figures: HistoryFigures; what: string } {
  const verdict = checkHistory(recorder.ops);
  const figures = figuresOf(recorder.ops);
  const what = `DISTKV_SEED=${seed}; ${note}${JSON.stringify(figures)}; errors ${JSON.stringify([...recorder.errors])}`;
  t.diagnostic(what);
  assert.ok(verdict.ok, `${verdict.ok ? '' : verdict.report}\n${what}`);
  assert.ok(figures.ops >= minOps, `at least ${minOps} operations recorded: ${what}`);
  assert.ok(figures.casOk >= 10, `some compare-and-set writes applied: ${what}`);
  assert.ok(figures.failed >= 10, `some conditional writes refused (412): ${what}`);
  assert.ok(figures.found >= 50, `some reads found values: ${what}`);
  return { figures, what };
}

/**
 * rawOp sends one operation with fetch to `node` and records it: a key request (redirects followed,
 * as the library follows them) or, for a write with `how` 'batch', a one-operation `POST /kv/_batch`.
 * What an answer means is the recorder's rule (history-recorder.ts): a refusal before running is not
 * recorded, a 412 is 'failed', a lost answer or any other error of a write is 'unknown'.
 */
async function rawOp(
  recorder: HistoryRecorder,
  node: string,
  client: string,
  key: string,
  input: ClientOpInput,
  how: RawKind,
  writeQuery = '',
): Promise<Op | undefined> {
  const call = performance.now();
  const record = (output: OpOutput): Op => {
    const op: Op = { key, call, ret: performance.now(), input, output, client: `${client}/${how}@${node}` };
    recorder.ops.push(op);
    return op;
  };
  const refused = (current: string | null | undefined): Op =>
    record(current === undefined ? { kind: 'failed' } : { kind: 'failed', current });
  const failedWrite = (code: string): Op | undefined => {
    recorder.errors.set(`raw ${code}`, (recorder.errors.get(`raw ${code}`) ?? 0) + 1);
    // WRONG_NODE: a forwarded part refused by an owner that no longer leads the shard (docs/api.md): not applied.
    return notRun(code) || code === 'WRONG_NODE' ? undefined : record({ kind: 'unknown' });
  };
  try {
    if (input.kind !== 'get' && how === 'batch') {
      const body = JSON.stringify([
        {
          op: input.kind === 'put' ? 'set' : 'delete',
          key,
          ...(input.kind === 'put' ? { value: input.value } : {}),
          ...(input.ifMatch === undefined ? {} : { if_match: input.ifMatch }),
          ...(input.kind === 'put' && input.ifNoneMatch === true ? { if_none_match: '*' } : {}),
        },
      ]);
      const res = await fetch(`http://${node}/kv/_batch`, { method: 'POST', body });
      const doc = (await res.json()) as {
        results?: { ok: boolean; error?: { code: string; version?: string | null } }[];
        error?: { code: string };
      };
      const one = doc.results?.[0];
      if (res.status !== 200 || one === undefined)
        return failedWrite(doc.error?.code ?? `HTTP ${res.status}`);
      if (one.ok) return record({ kind: 'ok' });
      const code = one.error?.code ?? 'INTERNAL';
      if (code === 'PRECONDITION_FAILED') return refused(one.error?.version);
      return failedWrite(code);
    }
    const headers: Record<string, string> = {};
    if (input.kind !== 'get' && input.ifMatch !== undefined) headers['if-match'] = `"${input.ifMatch}"`;
    if (input.kind === 'put' && input.ifNoneMatch === true) headers['if-none-match'] = '*';
    const method = input.kind === 'get' ? 'GET' : input.kind === 'put' ? 'PUT' : 'DELETE';
    const query = input.kind === 'get' || writeQuery === '' ? '' : `?${writeQuery}`;
    const res = await fetch(`http://${node}/kv/${encodeURIComponent(key)}${query}`, {
      method,
      headers,
      ...(input.kind === 'put' ? { body: input.value } : {}),
    });
    const text = await res.text();
    const etag = res.headers.get('etag')?.replace(/"/g, '');
    if (input.kind === 'get') {
      // A replica's answer (X-Distkv-Lag) is not the leader's: docs/api.md allows it to be stale.
      if (res.headers.get('x-distkv-lag') !== null) {
        recorder.errors.set(
          'raw read from a replica',
          (recorder.errors.get('raw read from a replica') ?? 0) + 1,
        );
        return undefined;
      }
      if (res.status === 200 && etag !== undefined)
        return record({ kind: 'found', value: text, version: etag });
      if (res.status === 404) return record({ kind: 'absent' });
      recorder.errors.set(`raw read ${res.status}`, (recorder.errors.get(`raw read ${res.status}`) ?? 0) + 1);
      return undefined;
    }
    if (res.status === 204 || res.status === 200) {
      const existed = res.headers.get('x-distkv-existed');
      return record({
        kind: 'ok',
        ...(etag === undefined ? {} : { version: etag }),
        ...(input.kind === 'delete' && existed !== null ? { existed: existed !== '0' } : {}),
      });
    }
    const doc = JSON.parse(text) as { error?: { code: string; version?: string | null } };
    if (res.status === 412) return refused(doc.error?.version);
    return failedWrite(doc.error?.code ?? `HTTP ${res.status}`);
  } catch (e) {
    // A read that failed says nothing; a write whose answer was lost may have been applied.
    if (input.kind === 'get') return undefined;
    return failedWrite(e instanceof Error ? e.name : 'unknown');
  }
}
