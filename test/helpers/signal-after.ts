/**
 * signalAfterEnv is the environment that makes a spawned `distkv` send itself SIGINT as it writes
 * a stdout line matching `re`, or on the turn after with `nextTurn` (signal-after-line.ts,
 * preloaded through NODE_OPTIONS): the operator's Ctrl-C as a command's result appears, at a
 * known point.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';

const PRELOAD = pathToFileURL(fileURLToPath(new URL('./signal-after-line.js', import.meta.url))).href;

export function signalAfterEnv(re: string, nextTurn = false): NodeJS.ProcessEnv {
  return {
    NODE_OPTIONS: `--import=${PRELOAD}`,
    DISTKV_TEST_SIGNAL_AFTER: re,
    DISTKV_TEST_SIGNAL_NEXT_TURN: nextTurn ? '1' : '',
  };
}
