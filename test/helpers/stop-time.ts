/**
 * How long a node's graceful stop took, read from its own JSON log lines ("shutting down" to
 * "stores closed; stopped"), not by polling the process (zombies are reaped slowly on a loaded
 * machine): for the tests that bound a stop (test/e2e/stop-*.test.ts).
 */
import assert from 'node:assert/strict';

/** logTime is the time (ms) of the first JSON log line of `out` whose message is `msg`. */
export function logTime(out: string, msg: string): number {
  for (const line of out.split('\n')) {
    if (!line.startsWith('{')) continue;
    const l = JSON.parse(line) as { msg?: string; time?: number };
    if (l.msg === msg && typeof l.time === 'number') return l.time;
  }
  assert.fail(`no "${msg}" line in the node's log:\n${out}`);
}

/** stopMsOf is the time from "shutting down" to "stores closed; stopped" in the node's log `out`. */
export function stopMsOf(out: string): number {
  return logTime(out, 'stores closed; stopped') - logTime(out, 'shutting down');
}
