/**
 * A note on stderr when a one-request verb (get, set, del) has waited SLOW_NOTE_MS for its answer.
 * A node that accepts connections but does not answer (stopped with SIGSTOP, swapping, a full
 * event loop) holds such a verb for a long time: each attempt waits the client's 10 s timeout, a
 * read is tried four times and the map is looked up again in between (about 80 s in all against a
 * frozen leader of a 3-node cluster), and the verb said nothing meanwhile. The note says it is
 * still trying and what Ctrl-C means; the answer, when it comes, is printed as usual.
 */

/** SLOW_NOTE_MS is how long a one-request verb waits before saying it is still waiting. */
export const SLOW_NOTE_MS = 5000;

/**
 * withSlowNote resolves like `p`, writing one line to stderr if it has not settled within
 * `afterMs` (SLOW_NOTE_MS, plus the wait for replicas a `--w` write asks for). `write` says that
 * the request may change the cluster (so Ctrl-C leaves its outcome unknown). Nothing is written
 * when `said` holds anything: the verb already said what it waits for (connect.ts, waitNote).
 */
export async function withSlowNote<T>(
  verb: string,
  p: Promise<T>,
  write: boolean,
  afterMs = SLOW_NOTE_MS,
  said: ReadonlySet<string> = new Set(),
): Promise<T> {
  const timer = setTimeout(() => {
    if (said.size > 0) return;
    process.stderr.write(
      `distkv ${verb}: no answer yet after ${Math.round(afterMs / 1000)} s; still trying (a node may be stopped or overloaded: each attempt waits up to 10 s). Ctrl-C gives up${
        write ? ': the write may then be applied or not (get the key to see)' : ''
      }\n`,
    );
  }, afterMs);
  try {
    return await p;
  } finally {
    clearTimeout(timer);
  }
}
