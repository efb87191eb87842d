/**
 * A bound on the wait for a response's head, the wait for one of the pool's connections included
 * (http-source.ts: its pulls, snapshots and `/cluster` reads). Past the bound the caller gets an
 * error naming the request at once; the request, aborted, leaves the pool's queue when a connection
 * frees, and an answer that still comes is let go.
 */
import type { Dispatcher } from 'undici';
import { letGo } from '../util/peer-answer.js';
import { namingTls } from '../util/tls-failure.js';

/**
 * headWithin sends a request of the pool (`send`, given the signal that aborts it) and throws
 * naming `what` when its answer's head has not come within `ms`, the wait for one of the pool's
 * connections included. undici's `headersTimeout` starts only once the request is on a
 * connection, and an aborted request still waits in the pool's queue until it reaches one (its
 * abort runs then): behind two connections a broken or hostile leader wedged (a body trickled, a
 * snapshot held), a pull or a resync waited there with no timeout running, and the replica stopped
 * replicating for good. So the bound is a race: past it the caller gets the error at once, and the
 * request, aborted, leaves the queue when a connection frees. The signal aborts nothing once the
 * head came (the body has its own bounds). A failed TLS handshake is thrown naming `what` and
 * the failure (namingTls, src/util/tls-failure.ts), the follower's last error in `/stats`.
 */
export async function headWithin(
  ms: number,
  what: string,
  send: (signal: AbortSignal) => Promise<Dispatcher.ResponseData>,
): Promise<Dispatcher.ResponseData> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const err = new Error(
        `${what}: no answer within ${ms} ms (the wait for a connection to the leader included); the request is given up and retried`,
      );
      controller.abort(err);
      reject(err);
    }, ms);
  });
  const sent = send(controller.signal);
  try {
    return await Promise.race([sent, late]);
  } catch (err) {
    // Given up: an answer that still comes is let go, the abort that ends it is not uncaught.
    sent.then(
      (r) => {
        letGo(r.body);
      },
      () => undefined,
    );
    throw namingTls(err, what);
  } finally {
    clearTimeout(timer);
  }
}
