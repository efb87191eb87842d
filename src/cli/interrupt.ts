/**
 * Ctrl-C and SIGTERM in the middle of a command that writes files or stores: undo what must not
 * look finished, say what was left, and exit with the shell's code for the signal (130 or 143).
 * Node's default for these signals is to die at once, with no message and nothing undone.
 *
 * Once a command's work is done, a signal no longer ends it: from then until the process exits the
 * signal is held (`afterWork`), and the command exits with its own code once its output is
 * flushed (bin/distkv.js). A handler here is removed only once `afterWork`'s is in place: with no
 * listener at all Node's default ends the process at once, whatever JavaScript is running (the
 * exit 130 of a failover that had moved the leader). Whether the first signal after the work has
 * come is which of afterWork's two listeners is installed: no state is kept in this module.
 */
import { rmSync } from 'node:fs';

/** EXIT_SIGNALED maps a signal to the exit code shells give a command it ended. */
export const EXIT_SIGNALED = { SIGINT: 130, SIGTERM: 143 } as const;

/** AFTER_WORK_SIGNALS are the signals `afterWork` holds. */
const AFTER_WORK_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** exitAtOnce ends the process with the shell's code for `signal`: a second signal after the work. */
const exitAtOnce = (signal: NodeJS.Signals): void => {
  process.exit(signal === 'SIGTERM' ? EXIT_SIGNALED.SIGTERM : EXIT_SIGNALED.SIGINT);
};

/** holdFirst takes the first signal after the work: nothing happens but that the next one exits. */
const holdFirst = (): void => {
  for (const s of AFTER_WORK_SIGNALS) process.on(s, exitAtOnce);
  for (const s of AFTER_WORK_SIGNALS) process.off(s, holdFirst);
};

/**
 * afterWork holds SIGINT and SIGTERM from the end of a command's work until the process exits: the
 * first is dropped and the command exits with its own code once its output is flushed, so a Ctrl-C
 * as `distkv failover` prints "leader A → B" (the leader moved) no longer exits 130 and gets the
 * failover run again by a script, moving the leader back. A second exits at once with the
 * shell's code for it (a close or a flush that hangs can still be ended). With `signaledOnce` (a
 * signal already stopped the work) the next signal is that second one. Called again, it changes
 * nothing but that. whileInterruptible and stopOnSignal call it as their work settles, main once
 * the verb has returned (before it releases serve's held signals).
 */
export function afterWork(signaledOnce = false): void {
  const installed = process.listeners('SIGINT');
  if (installed.includes(exitAtOnce)) return;
  // A work a signal already stopped (stopOnSignal) told the user "again to quit at once": the
  // next signal is that second one, not a first to hold.
  if (installed.includes(holdFirst)) {
    if (signaledOnce) holdFirst();
    return;
  }
  for (const s of AFTER_WORK_SIGNALS) process.on(s, signaledOnce ? exitAtOnce : holdFirst);
}

/**
 * whileInterruptible runs `work`; if SIGINT or SIGTERM arrives first, it calls `undo` (synchronous),
 * writes `message` (or what it returns then) to stderr and exits. Once `work` settles its handlers
 * give way to `afterWork`'s.
 */
export async function whileInterruptible<T>(
  work: () => Promise<T>,
  undo: () => void,
  message: string | (() => string),
): Promise<T> {
  const onSignal = (signal: keyof typeof EXIT_SIGNALED): void => {
    try {
      undo();
    } finally {
      process.stderr.write(`${typeof message === 'string' ? message : message()}\n`);
      process.exit(EXIT_SIGNALED[signal]);
    }
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await work();
  } finally {
    afterWork();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** StopOnSignal is what `stopOnSignal` returns. */
export interface StopOnSignal {
  /** exitCode is the shell's code for the signal that arrived (130, 143), or undefined if none did. */
  exitCode: () => number | undefined;
  /** done ends the work: its handlers give way to `afterWork`'s. */
  done: () => void;
}

/**
 * stopOnSignal is for work that can end early with a useful result (a load run): the first SIGINT
 * or SIGTERM calls `stop` and writes `message` to stderr; a second exits at once.
 */
export function stopOnSignal(stop: () => void, message: string): StopOnSignal {
  let signaled: keyof typeof EXIT_SIGNALED | undefined;
  const onSignal = (signal: keyof typeof EXIT_SIGNALED): void => {
    if (signaled !== undefined) process.exit(EXIT_SIGNALED[signal]);
    signaled = signal;
    process.stderr.write(`${message}\n`);
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    exitCode: () => (signaled === undefined ? undefined : EXIT_SIGNALED[signaled]),
    done: () => {
      afterWork(signaled !== undefined);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** removeFile deletes `path` if it exists (for an `undo`). */
export function removeFile(path: string): void {
  rmSync(path, { force: true });
}
