/**
 * Preloaded into a spawned `distkv` (NODE_OPTIONS=--import=<this file>; signal-after.ts sets it
 * up): the operator's Ctrl-C just as a command prints its result, at a known point instead of by
 * chance. When a write to stdout matches the regular expression in DISTKV_TEST_SIGNAL_AFTER, the
 * process sends itself SIGINT once: as soon as that write returns, or with
 * DISTKV_TEST_SIGNAL_NEXT_TURN=1 on the next turn of the event loop (after the code that wrote
 * the line and the promises it settled at once have run).
 */
const pattern = process.env.DISTKV_TEST_SIGNAL_AFTER;
if (pattern !== undefined && pattern !== '') {
  const re = new RegExp(pattern);
  const nextTurn = process.env.DISTKV_TEST_SIGNAL_NEXT_TURN === '1';
  const write = process.stdout.write.bind(process.stdout) as (...a: unknown[]) => boolean;
  let sent = false;
  process.stdout.write = (chunk: unknown, ...rest: unknown[]): boolean => {
    const room = write(chunk, ...rest);
    if (!sent && re.test(String(chunk))) {
      sent = true;
      const signal = (): void => {
        process.kill(process.pid, 'SIGINT');
      };
      if (nextTurn) setImmediate(signal);
      else signal();
    }
    return room;
  };
}
