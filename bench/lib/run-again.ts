/**
 * A command run again, as a user would, while it refuses with nothing changed: `distkv failover`
 * says "nothing was changed, run it again" when the shard moved under it (src/cli/failover.ts,
 * src/cli/failover-checks.ts), and a benchmark that drives it under load meets that refusal now
 * and then. Before, bench:failover ended on the first one with a stack trace (a paused leader's
 * last records reached one replica after `--force` had read the positions and chosen the other).
 * No effects on import.
 */
import { DistkvError } from '../../src/errors.js';

/**
 * nothingChanged reports whether `err` is a failover's refusal that changed nothing and may be run
 * again at once: the map changed meanwhile (MAP_CHANGED), or records reached a replica other than
 * the chosen one (INVALID_ARGUMENT saying so). A leader that came back ("answers again") is not:
 * that one needs a planned failover instead.
 */
export function nothingChanged(err: unknown): boolean {
  return (
    err instanceof DistkvError &&
    (err.code === 'MAP_CHANGED' || err.code === 'INVALID_ARGUMENT') &&
    err.message.includes('nothing was changed') &&
    !err.message.includes('answers again')
  );
}

/**
 * runAgain calls `run` until it resolves, at most `runs` times, calling again only after a refusal
 * that `nothingChanged` accepts (told to `refused` with the run's number, then after `pauseMs`);
 * any other error, or the last run's, is thrown. It returns how many runs were refused.
 */
export async function runAgain(
  run: () => Promise<unknown>,
  runs: number,
  refused: (err: DistkvError, n: number) => void,
  pauseMs = 100,
): Promise<number> {
  for (let n = 1; ; n++) {
    try {
      await run();
      return n - 1;
    } catch (err) {
      if (!nothingChanged(err) || n >= runs) throw err;
      refused(err as DistkvError, n);
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }
}
