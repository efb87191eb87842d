/**
 * SIGINT, SIGTERM and SIGHUP that arrive while `distkv serve` is still loading its modules. Loading the
 * server's modules takes about a second on a busy machine, and until serve installs its own
 * handlers Node's default for these signals ends the process at once: a start interrupted in that
 * window exited 130 or 143 instead of stopping cleanly with 0. bin/distkv.js starts holding them
 * before it imports anything else (this module imports nothing); serve then takes what was held
 * and stops before opening anything.
 */

/**
 * STOP_SIGNALS are the signals `distkv serve` stops cleanly on, and so the ones held. SIGHUP (the
 * terminal that ran it closed, an ssh session dropped, a `kill -HUP` meant as "reload") is one:
 * Node's default for it ends the process at once, with no drain and no flush (writes acknowledged
 * in `durability = "interval"` or `"none"` lost, "did not stop cleanly" at the next start), and
 * Node resets SIGHUP to that default even under `nohup`.
 */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const HELD = STOP_SIGNALS;

/** HeldSignal is a signal HeldSignals holds. */
export type HeldSignal = (typeof HELD)[number];

/** HeldSignals holds the STOP_SIGNALS from its creation until `release`. */
export interface HeldSignals {
  /** release stops holding and returns the signals held, oldest first. */
  release: () => HeldSignal[];
}

/** holdSignals starts holding the STOP_SIGNALS. */
export function holdSignals(): HeldSignals {
  const held: HeldSignal[] = [];
  let holding = true;
  const onSignal = (signal: HeldSignal): void => {
    held.push(signal);
  };
  for (const s of HELD) process.on(s, onSignal);
  return {
    release: () => {
      if (holding) for (const s of HELD) process.off(s, onSignal);
      holding = false;
      return held.splice(0);
    },
  };
}
