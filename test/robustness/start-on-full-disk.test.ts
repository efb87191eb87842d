/**
 * A node restarted on a disk with no free block left (another program filled it while the node
 * was stopped): DESIGN.md section 4 says a full disk refuses writes (507) and keeps serving reads;
 * a start that cannot go on must at least name the file it could not write and the fix. With no
 * block at all left, the data directory's LOCK cannot be written and the start says so, naming
 * the directory and the fix (src/server/data-dir-lock.ts). With one block left the LOCK takes it
 * and the start failed with `distkv serve: ENOSPC: no space left on device, write` alone: the
 * RUNNING marker (src/server/run-marker.ts, through src/util/durable-file.ts) could not be
 * written, and nothing said which file, which data directory, or to free space.
 * Skipped (with the reason) without root or loop devices.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loopFsUnavailable, mountLoopFs } from '../helpers/loop-fs.js';
import { freePort } from '../helpers/ports.js';
import { ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const unavailable = loopFsUnavailable();

/**
 * fillDisk appends to `file` until the file system takes not one more byte (bounded: 64 MiB of
 * writes), then frees one block (a small file made first): the data directory's LOCK still takes
 * it, the next file the start writes does not.
 */
function fillDisk(file: string): void {
  const spacer = `${file}-spacer`;
  writeFileSync(spacer, 'x');
  const fd = openSync(file, 'w');
  try {
    for (const size of [1024 * 1024, 4096, 1]) {
      const chunk = Buffer.alloc(size, 1);
      for (let i = 0; i < 64 * 1024; i++) {
        try {
          if (writeSync(fd, chunk) < size) break;
        } catch {
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  rmSync(spacer);
}

describe('a node started on a disk with no space left', () => {
  it(
    'serves the reads of what it holds, or names the file it could not write and the fix',
    { skip: unavailable ?? false, timeout: 60000 },
    async () => {
      const dir = tempDir(after);
      const fs = mountLoopFs(dir, 32);
      const running: ServerProcess[] = [];
      try {
        const port = await freePort();
        const base = `http://127.0.0.1:${String(port)}`;
        const config = writeConfig(dir, [{ address: `127.0.0.1:${String(port)}` }]);
        const dataDir = join(fs.mountPoint, 'data');
        const args = ['--config', config, '--data-dir', dataDir, '--workers', '1'];
        const env = { DISTKV_LOG_LEVEL: 'warn' };
        const first = await ServerProcess.start(args, `${base}/healthz`, env);
        running.push(first);
        for (let i = 0; i < 5; i++) {
          const r = await fetch(`${base}/kv/k${String(i)}`, { method: 'PUT', body: `value-${String(i)}` });
          assert.equal(r.status, 204, await r.text());
        }
        assert.equal(await first.stop(), 0);
        running.pop();
        fillDisk(join(fs.mountPoint, 'ballast'));

        const p = ServerProcess.spawn(['serve', ...args], env);
        running.push(p);
        let served: number | undefined;
        for (let i = 0; i < 150 && p.child.exitCode === null && served === undefined; i++) {
          await new Promise((r) => setTimeout(r, 100));
          try {
            const r = await fetch(`${base}/kv/k0`, { signal: AbortSignal.timeout(2000) });
            await r.arrayBuffer();
            if (r.status !== 503) served = r.status;
          } catch {
            // not listening yet
          }
        }
        if (served !== undefined) {
          assert.equal(served, 200, 'the read of an acknowledged key on the full disk');
          return;
        }
        const code = await p.waitExit();
        running.pop();
        const said = `${p.stdout}${p.stderr}`;
        assert.notEqual(code, 0);
        assert.match(
          said,
          new RegExp(dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
          `the start on a full disk names the file or data directory it could not write; it said: ${said}`,
        );
        assert.match(said, /free (some )?space|disk is full/i, `and says to free space; it said: ${said}`);
        assert.deepEqual(
          readdirSync(dataDir).filter((n) => n.endsWith('.tmp')),
          [],
          'the start that failed leaves no temporary file behind',
        );
      } finally {
        await Promise.all(running.map((s) => s.stop()));
        fs.unmount();
      }
    },
  );
});
