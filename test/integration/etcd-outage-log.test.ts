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
    await etcd.pause();
    try {
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
    } finally {
      etcd.resume();
    }
    const during = lines.slice(mark).filter((l) => l.level >= 40);
    assert.ok(
      during.length <= 3,
      `at most a warning per failing step (and one lease expiry) in ${OUTAGE_MS} ms, not one per tick:\n${shown(mark)}`,
    );
    const started = (what: string): LogLine | undefined =>
      during.find((l) => l.msg.includes(`this node fails at ${what}: `));
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
