/**
 * Turning shard worker replies into RESP errors: a worker's `{code, message}` becomes the Redis
 * error a client expects. Codes a client should retry (the store is not open yet, the node is
 * draining, a worker restarting, a failover holding the store's writes or its store no longer
 * the leader: SWITCHING_LEADER, not executed) become `TRYAGAIN`, which cluster clients retry;
 * the rest `ERR`. UNAVAILABLE may also answer a request that was in flight when its worker died
 * (src/server/worker-pool.ts): a write may have been applied then, so for a write it is `ERR`,
 * which a client does not send again (a repeated INCR would count twice), as the HTTP client
 * library resends an UNAVAILABLE read only.
 */
import { isErrorCode, type WireError } from '../errors.js';

const RETRY_CODES = new Set(['UNAVAILABLE', 'DRAINING', 'STARTING', 'SHARD_UNREACHABLE', 'SWITCHING_LEADER']);

/** errorText returns the RESP error text for an ST_ERROR reply body of a read, or of a write (`write`). */
export function errorText(value: Uint8Array, write = false): string {
  try {
    const w = JSON.parse(Buffer.from(value).toString('utf8')) as Partial<WireError>;
    if (isErrorCode(w.code) && typeof w.message === 'string') {
      const retry = RETRY_CODES.has(w.code) && !(write && w.code === 'UNAVAILABLE');
      return `${retry ? 'TRYAGAIN' : 'ERR'} ${w.message}`;
    }
  } catch {
    // fall through
  }
  return 'ERR malformed error reply from a shard worker';
}
