/**
 * A coordinated node whose etcd stops answering says so once, not every tick
 * (src/coordination/etcd-failure-log.ts): a warning as its lease renewals start failing and one as
 * its reconciles do (each naming the endpoint, the cause and what the node does meanwhile), then
 * nothing more within the 30 s between reminders, and an info line for each once etcd answers
 * again. Before, a node wrote the keepalive's and the reconcile's failures at warn every tick
 * (about 8 lines a second with a 1 s lease, 48 in 6 s), and a refused connection ended with
 * grpc-js's empty "Resolution note:". One coordinator in this process over a real etcd
 * (test/helpers/etcd.ts), paused (SIGSTOP) past its lease TTL, then resumed. Skipped only when no
 * etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { oneShardConfig, testCoordinator } from '../helpers/coordinator.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';
import { type LogLine, logLines, pollUntil } from '../helpers/log-lines.js';

const TTL_MS = 1000;
/** OUTAGE_MS: twelve ticks of a 1 s lease (a tick is TTL/4), well under a 30 s reminder interval. */
const OUTAGE_MS = 3000;

describe('a coordinated node while etcd does not answer', { skip: etcdMissing(), timeout: 60000 }, () => {
  it('warns once as its lease renewals and reconciles start failing, and says when they work again', async () => {
    const etcd = await TestEtcd.start();
    after(() => etcd.stop());
    const { log, lines } = logLines();
    const config = oneShardConfig(etcd.url, 'outage-log', TTL_MS, '127.0.0.1:7001', ['127.0.0.1:7002']);
    const coordinator = testCoordinator(
      config,
      'outage-log',
      { role: 'leader', node: '127.0.0.1:7001', lastSeq: () => 0 },
      undefined,
      log,
    );
    after(() => coordinator.stop());
    await coordinator.start();
    const shown = (from: number): string =>
      lines
        .slice(from)
        .map((l) => `${l.level} ${l.msg}`)
        .join('\n');
    const mark = lines.length;
    const started = (what: string): LogLine | undefined =>
      lines.slice(mark).find((l) => l.level >= 40 && l.msg.includes(`this node fails at ${what}: `));
    await etcd.pause();
    try {
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      // Both warnings are in before etcd answers again, however late a starved process wrote them
      // (bounded; still well within the 30 s between reminders): read at the resume alone, a
      // warning not yet written by then was counted missing.
      await pollUntil(
        () => started('renewing its lease') !== undefined && started('reconciling with etcd') !== undefined,
        10000,
      );
    } finally {
      etcd.resume();
    }
    const during = lines.slice(mark).filter((l) => l.level >= 40);
    // A step also writes a line at once for each new cause (src/util/repeat-log.ts): the connection
    // etcd stopped answering on can be dropped during the outage, and "sent to ..., which did not
    // answer" becomes "never sent: no connection to etcd was ready". Counted among at most 3
    // lines, those two failed a right node. What must not be is a line written again, tick after
    // tick: no two lines alike (their numbers masked), and at most 3 besides the cause changes.
    const shape = (l: LogLine): string => l.msg.replace(/\d+(\.\d+)?/g, 'N');
    const again = during.filter((l, i) => during.findIndex((o) => shape(o) === shape(l)) !== i);
    assert.equal(again.length, 0, `a line written again in ${OUTAGE_MS} ms:\n${shown(mark)}`);
    const changes = during.filter((l) => l.msg.includes(' (coordination): this node now fails at '));
    assert.ok(
      during.length - changes.length <= 3,
      `at most a warning per failing step (and one lease expiry) in ${OUTAGE_MS} ms, not one per tick:\n${shown(mark)}`,
    );
    for (const what of ['renewing its lease', 'reconciling with etcd']) {
      const line = started(what);
      assert.ok(line !== undefined, `a warning as ${what} starts failing:\n${shown(mark)}`);
      assert.ok(line.msg.startsWith(`etcd ${etcd.url} (coordination): `), line.msg);
      assert.match(line.msg, /\. Meanwhile .+; retrying every 250 ms/, line.msg);
    }
    const recovered = (what: string) => (l: LogLine) =>
      l.level === 30 && l.msg.includes(`this node succeeds at ${what} again, after `);
    const back = await pollUntil(
      () =>
        lines.slice(mark).some(recovered('renewing its lease')) &&
        lines.slice(mark).some(recovered('reconciling with etcd')),
      15000,
    );
    assert.ok(back, `an info line as each step works again:\n${shown(mark)}`);
    assert.ok(!shown(0).includes('Resolution note'), shown(0));
  });
});
