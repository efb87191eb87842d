/**
 * SIGINT and SIGTERM that arrive while `distkv serve` is still loading its modules. Loading the
 * server's modules takes about a second on a busy machine, and until serve installs its own
 * handlers Node's default for these signals ends the process at once: a start interrupted in that
 * window exited 130 or 143 instead of stopping cleanly with 0. bin/distkv.js starts holding them
 * before it imports anything else (this module imports nothing); serve then takes what was held
 * and stops before opening anything.
 */

/** HELD is the signals held: the ones a command stops on. */
const HELD = ['SIGINT', 'SIGTERM'] as const;

/** HeldSignal is a signal HeldSignals holds. */
export type HeldSignal = (typeof HELD)[number];

/** HeldSignals holds SIGINT and SIGTERM from its creation until `release`. */
export interface HeldSignals {
  /** release stops holding and returns the signals held, oldest first. */
  release: () => HeldSignal[];
}

/** holdSignals starts holding SIGINT and SIGTERM. */
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
