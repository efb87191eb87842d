/**
 * Ctrl-C and SIGTERM in the middle of a command that writes files or stores: undo what must not
 * look finished, say what was left, and exit with the shell's code for the signal (130 or 143).
 * Node's default for these signals is to die at once, with no message and nothing undone.
 */
import { rmSync } from 'node:fs';

/** EXIT_SIGNALED maps a signal to the exit code shells give a command it ended. */
const EXIT_SIGNALED = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * whileInterruptible runs `work`; if SIGINT or SIGTERM arrives first, it calls `undo` (synchronous),
 * writes `message` to stderr and exits. The handlers are removed once `work` settles.
 */
export async function whileInterruptible<T>(
  work: () => Promise<T>,
  undo: () => void,
  message: string,
): Promise<T> {
  const onSignal = (signal: keyof typeof EXIT_SIGNALED): void => {
    try {
      undo();
    } finally {
      process.stderr.write(`${message}\n`);
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

/** removeFile deletes `path` if it exists (for an `undo`). */
export function removeFile(path: string): void {
  rmSync(path, { force: true });
}
