/**
 * TIME: the node's clock as redis-server answers it, an array of two bulk strings, the Unix time
 * in seconds and the microseconds within that second (`1796294734`, `530458`: no padding). The
 * clock is the one the node's expiries are compared with (Date.now(), docs/api.md "TTL"); Node
 * gives it in milliseconds, so the microseconds within the millisecond come from the monotonic
 * clock (performance.now()): within a millisecond of the wall clock, as a client comparing TIME
 * with PEXPIRETIME needs.
 */
import { performance } from 'node:perf_hooks';
import type { RespConnection } from './resp-connection.js';

/** time: TIME. */
export function time(c: RespConnection): void {
  const ms = Date.now();
  const withinMs = Math.floor((performance.now() % 1) * 1000);
  const w = c.queue.now(c.proto);
  w.array(2);
  w.bulk(String(Math.floor(ms / 1000)));
  w.bulk(String((ms % 1000) * 1000 + withinMs));
}
