/**
 * Starting two failover commands "at once" for sure, not by timing: a command reads the map
 * (`/cluster`) at the nodes it was given and at every member before it holds or changes anything,
 * and one started a few tens of ms after the other can find the failover already done (a forced
 * one takes tens of ms, a planned one under load about 80 ms). `startTogether` pauses one member
 * until another has answered every command's reads, so all wait on the paused member's answer and
 * go on from one map.
 */
import type { ChildProcess } from 'node:child_process';
import { waitFor } from './failover-model.js';
import { pauseProcess } from './process-pause.js';
import { routeRequests } from './route-requests.js';

/** clusterReads is how many `/cluster` requests `node` has answered (`distkv_http_requests_total`). */
export async function clusterReads(node: string): Promise<number> {
  return routeRequests(node, 'cluster');
}

/**
 * startTogether pauses `held`, calls `start`, waits until node `seen` has answered `reads` more
 * `/cluster` requests (what the started commands read there before they read at `held`), resumes
 * `held`, and settles the commands. `held` must be resumed within a command's per-call timeout
 * (2 s): the wait is a few polls of `seen`'s metrics.
 */
export async function startTogether<T>(
  held: ChildProcess,
  seen: string,
  reads: number,
  start: () => Promise<T>[],
): Promise<PromiseSettledResult<T>[]> {
  await pauseProcess(held);
  let runs: Promise<T>[];
  try {
    const before = await clusterReads(seen);
    runs = start();
    await waitFor(
      `${seen} to answer the commands' map reads`,
      async () => (await clusterReads(seen)) >= before + reads,
    );
  } finally {
    held.kill('SIGCONT');
  }
  return Promise.allSettled(runs);
}
