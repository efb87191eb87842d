/**
 * etcdErrorText: an etcd client failure said for an operator, in the coordinator's warnings and in
 * a coordinated node's start error (start-steps.ts).
 *
 * etcd3 passes on the texts of the libraries under it, which say their own state, not the cause:
 *  - grpc-js, when no connection could be made: "14 UNAVAILABLE: No connection established. Last
 *    error: Error: connect ECONNREFUSED 127.0.0.1:2379. Resolution note: " (its pick-first
 *    balancer appends the name resolver's note, empty for an IP address), so a start error ended
 *    with an empty "Resolution note:";
 *  - cockatiel, for a call its circuit breaker held back without sending it (etcd-client.ts):
 *    "Execution prevented because the circuit breaker is open".
 *  - grpc-js, for a call past its deadline (etcd paused or overloaded): "4 DEADLINE_EXCEEDED:
 *    Deadline exceeded after 1.002s,LB pick: 0.001s,remote_addr=127.0.0.1:2379", whose timings
 *    differ on every call, and whose stage says where the call was stuck: "waiting for name
 *    resolution" or "Waiting for LB pick" (no connection ready: never sent), "remote_addr=..."
 *    (sent to that endpoint). Its time is no measure of the wait: etcd3 retries a call whose
 *    deadline passed, with none left, and passes on the last retry's text ("after 0.001s").
 * The first becomes "no connection (connect ECONNREFUSED 127.0.0.1:2379)" (a resolver's note, when
 * there is one, kept after it); the third "no answer within the call's deadline" with its stage in
 * plain words ("sent to 127.0.0.1:2379, which did not answer", "never sent: no connection to etcd
 * was ready") and no time; the second says that the call was not sent and why (`heldBack` tells
 * it apart: such a failure brings no cause of its own). Anything else is kept as it is.
 */
import { isBrokenCircuitError } from 'cockatiel';

/** NO_CONNECTION matches grpc-js's text for a call that found no connection (see above). */
const NO_CONNECTION =
  /^\d+ UNAVAILABLE: No connection established\. Last error: (?:Error: )?([^]*?)\.? Resolution note: ?([^]*)$/;

/** DEADLINE matches grpc-js's text for a call that ran out of its deadline ("4 DEADLINE_EXCEEDED: Deadline exceeded after 1.002s,remote_addr=..."), its stages after the time. */
const DEADLINE = /^\d+ DEADLINE_EXCEEDED: Deadline exceeded(?: after [\d.]+s)?,?([^]*)$/;

/** deadlineStage says in plain words where grpc-js's stages (`info`, comma-separated) say a call past its deadline was stuck. */
function deadlineStage(info: string): string | undefined {
  const stages = info.split(',').map((s) => s.trim());
  const sent = stages.find((s) => s.startsWith('remote_addr='));
  if (sent !== undefined) return `sent to ${sent.slice('remote_addr='.length)}, which did not answer`;
  if (stages.includes('waiting for name resolution'))
    return "never sent: etcd's address was still being resolved";
  if (stages.includes('Waiting for LB pick')) return 'never sent: no connection to etcd was ready';
  return undefined;
}

/** HELD_BACK is what a call a circuit breaker held back says (etcd-client.ts). */
export const HELD_BACK =
  'not sent: the etcd client holds calls back for a tick after three failed in a row (its circuit breaker is open)';

/** heldBack tells whether `err` is a call the etcd client's circuit breaker did not send. */
export function heldBack(err: unknown): boolean {
  return isBrokenCircuitError(err);
}

/** etcdErrorText says `err` (from the etcd client) for an operator; see the design block above. */
export function etcdErrorText(err: unknown): string {
  if (heldBack(err)) return HELD_BACK;
  const message = err instanceof Error ? err.message : String(err);
  const late = DEADLINE.exec(message);
  if (late !== null) {
    const stage = deadlineStage(late[1] ?? '');
    return `no answer within the call's deadline${stage === undefined ? '' : ` (${stage})`}`;
  }
  const m = NO_CONNECTION.exec(message);
  if (m === null) return message;
  const note = (m[2] ?? '').trim();
  return `no connection (${m[1] ?? 'no error reported'}${note === '' ? '' : `; name resolution: ${note}`})`;
}
