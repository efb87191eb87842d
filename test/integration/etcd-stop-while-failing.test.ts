/**
 * A coordinated node while etcd does not answer (src/coordination/etcd-failure-log.ts).
 *  - It stops promptly while its steps fail. With etcd ended it does; with etcd paused (a hung
 *    etcd, a host that stopped answering) EtcdCoordinator.stop awaits the watch's cancel, which
 *    has no deadline, until etcd answers again (drainNode awaits that stop: node-drain.ts).
 *  - Its "succeeds at reconciling with etcd again" line comes from a reconcile that ran. A tick
 *    without a lease returns at once without reading etcd (etcd-coordinator.ts `tick`), and `kick`
 *    counts that as a reconcile that worked: after an outage past the lease TTL the line is
 *    written as the lease is found expired, before a new one is granted and before any reconcile
 *    (and the run, closed, may open again at once with "not sent: ... circuit breaker" as its cause).
 * One coordinator in this process over a real etcd (test/helpers/etcd.ts), paused (SIGSTOP) or
 * ended. Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { oneShardConfig, testCoordinator } from '../helpers/coordinator.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';
import { logLines, pollUntil } from '../helpers/log-lines.js';

const TTL_MS = 1000;

describe('a coordinated node whose etcd stops answering', { skip: etcdMissing(), timeout: 60000 }, () => {
  /** stopTime stops `coordinator` and says how long it took, giving up at `ms` (undefined then). */
  async function stopTime(
    coordinator: { stop: () => Promise<void> },
    ms: number,
  ): Promise<number | undefined> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => {
        resolve(undefined);
      }, ms);
    });
    const took = await Promise.race([coordinator.stop().then(() => performance.now() - started), late]);
    clearTimeout(timer);
    return took;
  }

  for (const outage of ['paused (SIGSTOP)', 'ended'] as const)
    it(`stops within 5 s while its etcd is ${outage} and its steps fail`, async () => {
      const etcd = await TestEtcd.start();
      after(() => etcd.stop());
      const { log, lines } = logLines();
      const config = oneShardConfig(etcd.url, 'stop-failing', TTL_MS, '127.0.0.1:7001', ['127.0.0.1:7002']);
      const coordinator = testCoordinator(
        config,
        'stop-failing',
        { role: 'leader', node: '127.0.0.1:7001', lastSeq: () => 0 },
        undefined,
        log,
      );
      await coordinator.start();
      if (outage === 'ended') await etcd.stop();
      else await etcd.pause();
      try {
        assert.ok(await pollUntil(() => lines.some((l) => l.msg.includes('fails at reconciling')), 10000));
        const took = await stopTime(coordinator, 8000);
        assert.ok(
          took !== undefined && took < 5000,
          `stop took ${took === undefined ? 'over 8000' : Math.round(took)} ms (EtcdCoordinator.stop awaits the watch's cancel without a bound)`,
        );
      } finally {
        if (outage !== 'ended') etcd.resume();
      }
    });

  it('says reconciling works again only once a lease is held again', async () => {
    const etcd = await TestEtcd.start();
    after(() => etcd.stop());
    const { log, lines } = logLines();
    const config = oneShardConfig(etcd.url, 'false-recovery', TTL_MS, '127.0.0.1:7001', ['127.0.0.1:7002']);
    const coordinator = testCoordinator(
      config,
      'false-recovery',
      { role: 'leader', node: '127.0.0.1:7001', lastSeq: () => 0 },
      undefined,
      log,
    );
    after(() => coordinator.stop());
    await coordinator.start();
    const mark = lines.length;
    await etcd.pause();
    try {
      // Past the lease TTL: etcd drops the lease, the node learns it once etcd answers again.
      await new Promise((r) => setTimeout(r, 3 * TTL_MS));
    } finally {
      etcd.resume();
    }
    const at = (what: string): number =>
      lines.slice(mark).findIndex((l) => l.msg.includes(`this node succeeds at ${what} again`));
    assert.ok(
      await pollUntil(() => at('renewing its lease') >= 0 && at('reconciling with etcd') >= 0, 15000),
    );
    const shown = lines
      .slice(mark)
      .map((l) => `${l.time} ${l.level} ${l.msg.slice(0, 140)}`)
      .join('\n');
    // A tick that still held the old lease id may read etcd before the keepalive learns the lease
    // is gone: a reconcile that worked. What must not be is one said to work while no lease is
    // held: between "lease … expired" and the renewal.
    const after_ = lines.slice(mark);
    const lost = after_.findIndex((l) => /lease \S+ expired in etcd/.test(l.msg));
    const renewed = at('renewing its lease');
    const between = after_
      .slice(lost < 0 ? 0 : lost, renewed)
      .some((l) => l.msg.includes('this node succeeds at reconciling with etcd again'));
    assert.ok(
      !between && (lost >= 0 || at('reconciling with etcd') > renewed),
      `reconciling said to work again while no lease was held (a tick without a lease reads nothing):\n${shown}`,
    );
  });
});
