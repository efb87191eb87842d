/**
 * Builders of hand-made histories for the linearizability checker's unit tests
 * (test/helpers/linearizability.ts): one operation on key 'k' (or `key`) from call to ret.
 */
import type { Op, OpInput, OpOutput } from './linearizability.js';

/** op makes one operation on key 'k' from call to ret. */
export function op(call: number, ret: number, input: OpInput, output: OpOutput, key = 'k'): Op {
  return { key, call, ret, input, output };
}
export const put = (
  value: string,
  extra: Partial<{ ifMatch: string; ifNoneMatch: boolean }> = {},
): OpInput => ({
  kind: 'put',
  value,
  ...extra,
});
export const get: OpInput = { kind: 'get' };
export const ok = (version?: string): OpOutput =>
  version === undefined ? { kind: 'ok' } : { kind: 'ok', version };
export const found = (value: string, version: string): OpOutput => ({ kind: 'found', value, version });
export const unknown: OpOutput = { kind: 'unknown' };
/** failover is the failover op on key 'k' from call to ret, forking at `fork` (the new leader's `epoch`, when given). */
export const failover = (call: number, ret: number, fork: string, epoch?: number): Op =>
  op(call, ret, { kind: 'failover', fork, ...(epoch === undefined ? {} : { epoch }) }, { kind: 'ok' });
