/**
 * HistoryRecorder runs single-key operations through the client library and records each as an
 * operation of a history for the linearizability checker (test/helpers/linearizability.ts): its
 * call and answer times (performance.now(), one clock for every client of the test process), what
 * was asked and what came back.
 *
 * What an error means for the history:
 * - a read that fails constrains nothing and is not recorded;
 * - a write refused before it ran (the client's NOT_EXECUTED codes, SWITCHING_LEADER, a refused
 *   connection, INVALID_ARGUMENT) is not recorded: nothing was written;
 * - PRECONDITION_FAILED is a 412 with the current version ('failed');
 * - any other write error (OutcomeUnknownError, REPLICATION_TIMEOUT: applied at the leader, not
 *   acknowledged by `w` replicas, a timeout) is 'unknown': it may have taken effect, or not.
 */
import { DistkvError, PreconditionFailedError } from '../../src/errors.js';
import type { DistkvClient } from '../../src/client/client.js';
import type { GetOptions, PutOptions } from '../../src/client/types.js';
import type { Op, OpInput, OpOutput } from './linearizability.js';

/** NOT_RUN are the codes of writes the node refused before running them. */
const NOT_RUN = new Set([
  'DRAINING',
  'STARTING',
  'SLOTS_DISPUTED',
  'FORWARD_EXPIRED',
  'SWITCHING_LEADER',
  'INVALID_ARGUMENT',
]);

/** notRun says whether a write that failed with `code` was refused before it ran (so is not recorded). */
export function notRun(code: string): boolean {
  return NOT_RUN.has(code);
}

/** WriteOptions are the write's condition and concern, as the client library takes them. */
export type WriteOptions = Pick<PutOptions, 'ifMatch' | 'ifNoneMatch' | 'w' | 'timeoutMs'>;

/** ReadOptions are a read's concern, as the client library takes it. */
export type ReadOptions = Pick<GetOptions, 'w' | 'timeoutMs'>;

/** HistoryRecorder records the operations run through it. */
export class HistoryRecorder {
  readonly ops: Op[] = [];
  /** errors counts the errors seen, by code, for a test's report. */
  readonly errors = new Map<string, number>();

  private count(e: unknown): string {
    const code = e instanceof DistkvError ? e.code : e instanceof Error ? e.name : 'unknown';
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    return code;
  }

  private record(client: string, key: string, call: number, input: OpInput, output: OpOutput): void {
    this.ops.push({ key, call, ret: performance.now(), input, output, client });
  }

  /**
   * get reads `key` (its value as UTF-8 and its version); undefined when the read failed. With
   * `w` ≥ 1 (a read concern) it is recorded as `replicated`.
   */
  async get(
    kv: DistkvClient,
    client: string,
    key: string,
    options: ReadOptions = {},
  ): Promise<{ value: string; version: string } | null | undefined> {
    const call = performance.now();
    try {
      const got = await kv.getVersioned(key, options);
      const output: OpOutput =
        got === undefined
          ? { kind: 'absent' }
          : { kind: 'found', value: got.value.toString(), version: got.version };
      const input: OpInput = (options.w ?? 0) >= 1 ? { kind: 'get', replicated: true } : { kind: 'get' };
      this.record(client, key, call, input, output);
      return got === undefined ? null : { value: got.value.toString(), version: got.version };
    } catch (e) {
      this.count(e);
      return undefined;
    }
  }

  /** put writes `value`; resolves with its version, 'failed' (412), or undefined (not run, or outcome unknown). */
  async put(
    kv: DistkvClient,
    client: string,
    key: string,
    value: string,
    options: WriteOptions = {},
  ): Promise<{ version: string } | 'failed' | undefined> {
    const input: OpInput = { kind: 'put', value };
    if (options.ifMatch !== undefined) input.ifMatch = options.ifMatch;
    if (options.ifNoneMatch === true) input.ifNoneMatch = true;
    const call = performance.now();
    try {
      const version = await kv.putVersioned(key, value, options);
      this.record(client, key, call, input, { kind: 'ok', version });
      return { version };
    } catch (e) {
      return this.writeFailed(e, client, key, call, input);
    }
  }

  /** delete removes `key`; resolves with whether it existed, 'failed' (412), or undefined (not run, or outcome unknown). */
  async delete(
    kv: DistkvClient,
    client: string,
    key: string,
    options: Omit<WriteOptions, 'ifNoneMatch'> = {},
  ): Promise<boolean | 'failed' | undefined> {
    const input: OpInput = { kind: 'delete' };
    if (options.ifMatch !== undefined) input.ifMatch = options.ifMatch;
    const call = performance.now();
    try {
      const existed = await kv.delete(key, options);
      this.record(client, key, call, input, { kind: 'ok', existed });
      return existed;
    } catch (e) {
      return this.writeFailed(e, client, key, call, input);
    }
  }

  private writeFailed(
    e: unknown,
    client: string,
    key: string,
    call: number,
    input: OpInput,
  ): 'failed' | undefined {
    const code = this.count(e);
    if (e instanceof PreconditionFailedError) {
      this.record(client, key, call, input, { kind: 'failed', current: e.version });
      return 'failed';
    }
    if (notRun(code)) return undefined;
    this.record(client, key, call, input, { kind: 'unknown' });
    return undefined;
  }
}
