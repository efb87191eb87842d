/**
 * Ctrl-C and SIGTERM in the middle of a command that writes files or stores: undo what must not
 * look finished, say what was left, and exit with the shell's code for the signal (130 or 143).
 * Node's default for these signals is to die at once, with no message and nothing undone.
 */
import { rmSync } from 'node:fs';

/** EXIT_SIGNALED maps a signal to the exit code shells give a command it ended. */
export const EXIT_SIGNALED = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * whileInterruptible runs `work`; if SIGINT or SIGTERM arrives first, it calls `undo` (synchronous),
 * writes `message` (or what it returns then) to stderr and exits. The handlers are removed once
 * `work` settles.
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
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** StopOnSignal is what `stopOnSignal` returns. */
export interface StopOnSignal {
  /** exitCode is the shell's code for the signal that arrived (130, 143), or undefined if none did. */
  exitCode: () => number | undefined;
  /** done removes the handlers. */
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
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** removeFile deletes `path` if it exists (for an `undo`). */
export function removeFile(path: string): void {
  rmSync(path, { force: true });
}
