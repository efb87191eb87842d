/**
 * Load generator thread entry point (piscina): runs one ThreadTask. All logic lives in
 * src/loadgen/load-thread.ts.
 */
import { runThread, type ThreadResult, type ThreadTask } from '../src/loadgen/load-thread.js';

/** run is the task function piscina calls (by name, see loadgen.ts). */
export function run(task: ThreadTask): Promise<ThreadResult> {
  return runThread(task);
}
