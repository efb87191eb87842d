/**
 * etcdFailureLog: the lines a coordinated node writes while a step it retries every tick fails
 * (docs/failover.md, "Automatic failover with etcd"; docs/operations.md lists them): renewing its
 * lease, and reconciling with etcd. While etcd was down each node wrote both failures every tick
 * (8 warnings a second with a 1 s lease); now each step writes a warning as it starts failing (what
 * fails, the cause, what the node does meanwhile, how often it retries), a warning at once when the
 * cause changes to a new one (etcd answering again but refusing this node), a reminder at most
 * every 30 s with the count, and an info line once it works again (src/util/repeat-log.ts).
 */
import type { Logger } from 'pino';
import { REMINDER_MS, type RepeatEvent, RepeatLog, runSummary } from '../util/repeat-log.js';

/** EtcdStep names the retried step: the lease's renewals, or the reconciles. */
export type EtcdStep = 'lease' | 'reconcile';

/** STEPS says each step, and what the node does while it fails. */
const STEPS: Record<EtcdStep, { what: string; meanwhile: string }> = {
  lease: {
    what: 'renewing its lease',
    meanwhile:
      'its leaders take no writes once the lease deadline passes (a lease TTL after the last renewal at most) and its replicas keep serving reads',
  },
  reconcile: {
    what: 'reconciling with etcd',
    meanwhile: 'it keeps its live map and takes no part in failovers (no campaign, no leader key taken)',
  },
};

/** etcdFailureLog makes the RepeatLog of `step`, writing to `log` and naming `endpoints`; see above. */
export function etcdFailureLog(
  log: Logger,
  endpoints: readonly string[],
  tickMs: number,
  step: EtcdStep,
  options: { reminderMs?: number; now?: () => number } = {},
): RepeatLog {
  const etcd = endpoints.join(', ');
  const { what, meanwhile } = STEPS[step];
  const about = `etcd ${etcd} (coordination): this node`;
  return new RepeatLog((e: RepeatEvent) => {
    if (e.kind === 'started') {
      log.warn(
        { etcd, step },
        `${about} fails at ${what}: ${e.cause}. Meanwhile ${meanwhile}; retrying every ${tickMs} ms (a reminder every ${(options.reminderMs ?? REMINDER_MS) / 1000} s, a line when it works again)`,
      );
      return;
    }
    const fields = { etcd, step, failures: e.failures, since_ms: Math.round(e.sinceMs) };
    if (e.kind === 'changed')
      log.warn(
        fields,
        `${about} now fails at ${what} with ${e.cause} (before: ${e.before}; ${runSummary(e.failures, e.sinceMs)} so far). Meanwhile ${meanwhile}`,
      );
    else if (e.kind === 'reminder')
      log.warn(
        fields,
        `${about} still fails at ${what} (${runSummary(e.failures, e.sinceMs)}; the last: ${e.cause}). Meanwhile ${meanwhile}`,
      );
    else log.info(fields, `${about} succeeds at ${what} again, after ${runSummary(e.failures, e.sinceMs)}`);
  }, options);
}
