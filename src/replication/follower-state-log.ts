/**
 * How a follower (follower.ts) logs a change of its state: once per change, never per pull, at the
 * level the change deserves. A replica that starts before its leader is waiting for it (info); a
 * leader lost later is unreachable or refuses the pulls (warn, with the error); a move between
 * streaming and catching-up, frequent under a steady write load, is debug; any other change
 * (resyncing, stopped, streaming again after a disconnection) is info.
 */
import type { Logger } from 'pino';
import type { FollowerState } from './positions.js';

/** logStateChange logs a follower's move from state `from` to `to`; `detail` is the error that caused it, if any. */
export function logStateChange(
  log: Logger | undefined,
  source: string,
  from: FollowerState,
  to: FollowerState,
  detail?: string,
): void {
  const fields = { source, from, to, ...(detail === undefined ? {} : { error: detail }) };
  if (to === 'disconnected' && from === 'starting')
    log?.info(fields, 'replication: waiting for the leader to come up');
  else if (to === 'disconnected')
    log?.warn(
      fields,
      'replication: the leader is unreachable or refuses the pulls (see error); retrying with backoff',
    );
  else if ((from === 'streaming' || from === 'catching-up') && (to === 'streaming' || to === 'catching-up'))
    log?.debug(fields, `replication: ${to}`);
  else log?.info(fields, `replication: ${to}`);
}
