/**
 * The e2e helper pauseProcess (test/helpers/process-pause.ts): once it resolves, no thread of the
 * process runs, its worker threads included. A child whose worker thread counts in a file as fast
 * as it can is paused and resumed 20 times; while paused, the count stays put. With SIGSTOP
 * alone, the count moved on for up to 66 ms on a loaded machine.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pauseProcess } from '../helpers/process-pause.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir(after);

/** CHILD is a process whose worker thread writes a growing count into the file named by argv[1]. */
const CHILD = `
const { Worker } = require('node:worker_threads');
const code = "const fs = require('node:fs'); const fd = fs.openSync(require('node:worker_threads').workerData, 'w');" +
  "let n = 0; const tick = () => { fs.writeSync(fd, String(++n).padStart(12), 0); setImmediate(tick); }; tick();";
new Worker(code, { eval: true, workerData: process.argv[1] });
setInterval(() => {}, 1000);
`;

const linux = process.platform === 'linux';

describe('pauseProcess', () => {
  it(
    'resolves only once every thread has stopped: a worker thread makes no progress after it',
    { skip: !linux && 'reads /proc', timeout: 60000 },
    async () => {
      const file = join(dir, 'count');
      const child = spawn(process.execPath, ['-e', CHILD, file], { stdio: 'ignore' });
      const count = (): number => {
        try {
          return Number(readFileSync(file, 'utf8'));
        } catch {
          return 0;
        }
      };
      /** moved waits (bounded) until the count passes `from`. */
      const moved = async (from: number): Promise<void> => {
        const deadline = Date.now() + 20000;
        while (count() <= from) {
          if (Date.now() > deadline) throw new Error(`the child's count stayed at ${from} for 20 s`);
          await new Promise((r) => setTimeout(r, 5));
        }
      };
      try {
        await moved(0);
        for (let round = 0; round < 20; round++) {
          await pauseProcess(child);
          const at = count();
          for (let look = 0; look < 5; look++) {
            await new Promise((r) => setTimeout(r, 10));
            assert.equal(count(), at, `round ${round}: the count moved after pauseProcess resolved`);
          }
          child.kill('SIGCONT');
          await moved(at);
        }
      } finally {
        child.kill('SIGKILL');
      }
    },
  );
});
