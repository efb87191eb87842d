/**
 * A coordinated node's etcd failure lines when the cause of a run of failures changes mid-run
 * (src/coordination/etcd-failure-log.ts, src/util/repeat-log.ts). Before, the coordinator wrote
 * each new message at once (`warnOnce`: a line whenever the text changed); now a run writes its
 * first cause, then a reminder at most every 30 s naming only the latest cause, and a recovery
 * line naming none. So etcd refusing connections, then answering but refusing this node (wrong
 * credentials, permission denied) for 20 s, then fixed, leaves no line that ever names the
 * permission error; and a cause that lasted between two reminders is never written.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { etcdFailureLog } from '../../src/coordination/etcd-failure-log.js';

/** capture is a logger whose lines (their `msg`) the test reads, on a clock it moves. */
function capture(): { lines: string[]; clock: { at: number }; log: pino.Logger } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n'))
        if (l !== '') lines.push((JSON.parse(l) as { msg: string }).msg);
      done();
    },
  });
  return { lines, clock: { at: 0 }, log: pino({ level: 'info' }, sink) };
}

const REFUSED = 'etcd keepalive: no connection (connect ECONNREFUSED 127.0.0.1:2379)';
const DENIED = 'etcd keepalive: etcdserver: permission denied';

describe('etcd failure lines when the cause changes mid-run', () => {
  it('names a new cause that lasted 20 s before etcd recovered', async () => {
    const { lines, clock, log } = capture();
    const lease = etcdFailureLog(log, ['127.0.0.1:2379'], 250, 'lease', { now: () => clock.at });
    // etcd down for 5 s (a keepalive every 250 ms), then it answers "permission denied" for 20 s.
    for (; clock.at < 5000; clock.at += 250) lease.failed(REFUSED);
    for (; clock.at < 25_000; clock.at += 250) lease.failed(DENIED);
    lease.succeeded();
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(
      lines.some((l) => l.includes('permission denied')),
      `no line names the permission error that lasted 20 s:\n${lines.join('\n')}`,
    );
  });

  it('writes a change of cause when it happens, not up to 30 s later', async () => {
    const { lines, clock, log } = capture();
    const lease = etcdFailureLog(log, ['127.0.0.1:2379'], 250, 'lease', { now: () => clock.at });
    for (; clock.at < 5000; clock.at += 250) lease.failed(REFUSED);
    lease.failed(DENIED);
    clock.at += 250;
    lease.failed(DENIED);
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(
      lines.some((l) => l.includes('permission denied')),
      `the change to a permission error is not written (the next reminder is at 30 s):\n${lines.join('\n')}`,
    );
  });
});
