/**
 * Module loading hooks (node:module `register`) that hold one module of a spawned process while
 * a test acts: the load of the module whose URL ends with DISTKV_TEST_STALL_MODULE first creates
 * the file DISTKV_TEST_STALL_REACHED, then waits until the file DISTKV_TEST_STALL_UNTIL exists
 * (at most 30 s). A test uses it to send a signal at a known point of a command's start-up.
 * Loaded with `--import` of stall-load-register.js; the hooks run on Node's loader thread.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** MAX_STALL_MS bounds the hold: a test that never releases it does not hang the process. */
const MAX_STALL_MS = 30000;

/** load is the hook: it holds the chosen module, then loads it as Node would. */
export async function load(
  url: string,
  context: unknown,
  nextLoad: (url: string, context: unknown) => Promise<unknown>,
): Promise<unknown> {
  const suffix = process.env.DISTKV_TEST_STALL_MODULE;
  const reached = process.env.DISTKV_TEST_STALL_REACHED;
  const until = process.env.DISTKV_TEST_STALL_UNTIL;
  if (suffix !== undefined && reached !== undefined && until !== undefined && url.endsWith(suffix)) {
    writeFileSync(reached, url);
    const deadline = Date.now() + MAX_STALL_MS;
    while (!existsSync(until) && Date.now() < deadline) await sleep(10);
  }
  return nextLoad(url, context);
}
