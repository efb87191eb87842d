/**
 * A lock whose holder was killed with SIGKILL but not yet collected by its parent (a zombie) is
 * stale: the holder has closed every file. `kill -9` then `distkv serve` used to be refused with
 * DATA_DIR_LOCKED naming the dead pid for as long as the parent did not wait for it (a moment
 * under a shell, for ever under a parent that never waits).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DataDirLock, LOCK_FILE } from '../../src/server/data-dir-lock.js';
import { tempDir } from '../helpers/temp-dir.js';

const MODULE = new URL('../../src/server/data-dir-lock.js', import.meta.url).href;

/** procState reads field 3 of /proc/<pid>/stat ('' when the process is gone). */
function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '';
  } catch {
    return '';
  }
}

async function waitFor(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe(
  'data directory lock: a holder killed but not yet collected',
  { skip: !existsSync('/proc/self/stat') && 'needs /proc' },
  () => {
    it('takes over the lock of a holder killed with SIGKILL whose parent has not waited for it (a zombie)', async () => {
      const dir = join(tempDir(after), 'data');
      const holderCode = `import { DataDirLock } from ${JSON.stringify(MODULE)};
      DataDirLock.acquire(${JSON.stringify(dir)}); console.log('won'); setTimeout(() => {}, 60000);`;
      // sh starts the holder in the background, prints its pid, then becomes `sleep`, which never
      // waits for children: the holder, once killed, stays a zombie until the sleep ends.
      const script = `"$0" --input-type=module -e "$1" & echo $!; exec sleep 30`;
      const parent = spawn('sh', ['-c', script, process.execPath, holderCode], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      after(() => {
        parent.kill('SIGKILL');
      });
      let out = '';
      parent.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      await waitFor('the holder to take the lock', () => out.includes('won'));
      const holderPid = Number(out.split('\n')[0]);
      assert.ok(holderPid > 0, `holder pid from ${JSON.stringify(out)}`);
      assert.equal(
        (JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number }).pid,
        holderPid,
      );

      process.kill(holderPid, 'SIGKILL');
      await waitFor('the holder to be a zombie', () => procState(holderPid) === 'Z');

      const lock = DataDirLock.acquire(dir);
      try {
        assert.equal(
          (JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number }).pid,
          process.pid,
        );
        assert.equal(lock.previousOwner?.pid, holderPid, 'the zombie is named as the previous owner');
      } finally {
        lock.release();
      }
    });
  },
);
