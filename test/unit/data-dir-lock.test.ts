/**
 * The data directory lock: one live owner at a time, a clear error naming the directory and the
 * owner's pid, and a lock left behind by a killed process (or a reused pid) taken over, by exactly
 * one of several processes racing for it.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, DataDirLockedError } from '../../src/errors.js';
import { DataDirLock, FOREIGN_STALE_MS, LOCK_FILE, selfIdentity } from '../../src/server/data-dir-lock.js';
import { loopFsUnavailable, mountLoopFs, mountReadOnly } from '../helpers/loop-fs.js';
import { tempDir } from '../helpers/temp-dir.js';

const MODULE = new URL('../../src/server/data-dir-lock.js', import.meta.url).href;

/**
 * lockingChild starts a process that takes the lock of `dir`, prints "won" or "locked", and holds
 * it until killed; `wrap` runs it under another command (unshare: another PID namespace).
 */
function lockingChild(dir: string, wrap: string[] = []): { child: ChildProcess; said: Promise<string> } {
  const code = `import { DataDirLock } from ${JSON.stringify(MODULE)};
    try { DataDirLock.acquire(${JSON.stringify(dir)}); console.log('won'); }
    catch (e) { console.log(e.code === 'DATA_DIR_LOCKED' ? 'locked' : String(e)); }
    setTimeout(() => {}, 60000);`;
  const [command, ...args] = [...wrap, process.execPath, '--input-type=module', '-e', code];
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const said = new Promise<string>((resolve) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
  });
  return { child, said };
}

function lockPid(dir: string): unknown {
  return (JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid?: unknown }).pid;
}

/** UNSHARE runs a command as the first process of a new PID namespace (with its own /proc). */
const UNSHARE = ['unshare', '--pid', '--fork', '--mount-proc'];

function unshareUnavailable(): string | false {
  const r = spawnSync(UNSHARE[0]!, [...UNSHARE.slice(1), 'true']);
  return r.status === 0 ? false : 'unshare --pid needs root and util-linux';
}

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid;
}

describe('data directory lock', () => {
  it(
    'refuses a data directory on a read-only file system, naming it and why (not ENOENT)',
    {
      skip: loopFsUnavailable(),
    },
    () => {
      const base = join(tempDir(after), 'fs');
      mkdirSync(join(base, 'existing'), { recursive: true });
      const ro = mountReadOnly(base);
      try {
        for (const dir of [join(ro.mountPoint, 'new', 'data'), join(ro.mountPoint, 'existing')])
          assert.throws(
            () => DataDirLock.acquire(dir),
            (err: unknown) => {
              assert.ok(err instanceof ConfigError, String(err));
              assert.match(err.message, new RegExp(`${dir}.*read-only file system`));
              return true;
            },
          );
      } finally {
        ro.unmount();
      }
    },
  );

  it('refuses a data directory a file system will not make (under /proc) at once, naming it, instead of hanging', () => {
    // Node's recursive mkdir loops for ever there (ENOENT with the parent present), and
    // synchronously: run in a child, so the old code fails the test by its time limit.
    const dir = '/proc/distkv-no-such-dir/data';
    const code = `import { DataDirLock } from ${JSON.stringify(MODULE)};
      try { DataDirLock.acquire(${JSON.stringify(dir)}); console.log('acquired'); }
      catch (e) { console.log(e.name + ': ' + e.message); }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
      timeout: 10000,
      encoding: 'utf8',
    });
    assert.equal(r.signal, null, 'answered within 10 s');
    assert.match(
      r.stdout,
      /ConfigError: [^]*\/proc\/distkv-no-such-dir\/data cannot be written: .*\(ENOENT\)/,
    );
  });

  it(
    'refuses a data directory on a full disk, naming it and why, and leaves no temp file behind',
    { skip: loopFsUnavailable() },
    () => {
      const fs = mountLoopFs(tempDir(after), 2);
      try {
        const dir = join(fs.mountPoint, 'data');
        mkdirSync(dir);
        const fd = openSync(join(fs.mountPoint, 'ballast'), 'w');
        try {
          // Down to single bytes, so not one free block is left.
          for (const size of [64 * 1024, 1024, 1]) {
            const block = Buffer.alloc(size, 1);
            try {
              for (;;) writeSync(fd, block);
            } catch (err) {
              assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC', 'the disk is full');
            }
          }
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        assert.throws(
          () => DataDirLock.acquire(dir),
          (err: unknown) => {
            assert.ok(err instanceof ConfigError, String(err));
            assert.match(err.message, new RegExp(`${dir}.*no space left`));
            return true;
          },
        );
        assert.deepEqual(readdirSync(dir), [], 'no LOCK and no temp file left');
      } finally {
        fs.unmount();
      }
    },
  );

  it('writes the owner into LOCK and refuses a second owner, naming the directory and its pid', () => {
    const dir = join(tempDir(after), 'data');
    const lock = DataDirLock.acquire(dir);
    assert.equal(lockPid(dir), process.pid);
    assert.throws(
      () => DataDirLock.acquire(dir),
      (err: unknown) => {
        assert.ok(err instanceof DataDirLockedError);
        assert.equal(err.holderPid, process.pid);
        assert.match(err.message, new RegExp(`${dir}.*pid ${process.pid}`));
        return true;
      },
    );
    lock.release();
    assert.equal(existsSync(join(dir, LOCK_FILE)), false, 'release removes LOCK');
    DataDirLock.acquire(dir).release();
  });

  it('takes over a lock left by a dead process', () => {
    const dir = tempDir(after);
    const me = selfIdentity();
    writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify({ ...me, pid: deadPid() })}\n`);
    const lock = DataDirLock.acquire(dir);
    assert.equal(lockPid(dir), process.pid);
    lock.release();
  });

  it('takes over a lock whose pid now belongs to another process, or that predates a reboot', () => {
    const dir = tempDir(after);
    const me = selfIdentity();
    for (const stale of [
      { ...me, start: `${me.start}0` },
      { ...me, boot: 'another-boot' },
    ]) {
      writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify(stale)}\n`);
      // A lock from before a reboot was last refreshed then: its heartbeat is long stopped.
      const then = new Date(Date.now() - 60_000);
      utimesSync(join(dir, LOCK_FILE), then, then);
      DataDirLock.acquire(dir).release();
    }
  });

  it('refuses while another process holds it and takes it after that process is killed with SIGKILL', async () => {
    const dir = tempDir(after);
    const holder = lockingChild(dir);
    try {
      assert.equal(await holder.said, 'won');
      assert.throws(
        () => DataDirLock.acquire(dir),
        (err: unknown) => err instanceof DataDirLockedError && err.holderPid === holder.child.pid,
      );
    } finally {
      holder.child.kill('SIGKILL');
    }
    await new Promise((r) => holder.child.once('exit', r));
    assert.ok(existsSync(join(dir, LOCK_FILE)), 'kill -9 leaves LOCK behind');
    DataDirLock.acquire(dir).release();
  });

  it(
    'refuses a lock held by a live process of another PID namespace (its pid means nothing here), and takes it once that process is gone',
    { skip: unshareUnavailable() },
    async () => {
      const dir = tempDir(after);
      const holder = lockingChild(dir, UNSHARE);
      try {
        assert.equal(await holder.said, 'won');
        const started = Date.now();
        assert.throws(
          () => DataDirLock.acquire(dir),
          (err: unknown) => err instanceof DataDirLockedError,
          'the holder in the other namespace is alive: its heartbeat moves',
        );
        assert.ok(Date.now() - started < FOREIGN_STALE_MS, 'a live heartbeat is seen before the stale limit');
      } finally {
        holder.child.kill('SIGKILL');
      }
      await new Promise((r) => holder.child.once('exit', r));
      const then = new Date(Date.now() - 60_000); // as if it died a minute ago
      utimesSync(join(dir, LOCK_FILE), then, then);
      const lock = DataDirLock.acquire(dir);
      assert.equal(lockPid(dir), process.pid);
      lock.release();
    },
  );

  it('lets exactly one of several processes take over a stale lock', async () => {
    const dir = tempDir(after);
    writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify({ ...selfIdentity(), pid: deadPid() })}\n`);
    const racers = Array.from({ length: 6 }, () => lockingChild(dir));
    try {
      const said = await Promise.all(racers.map((r) => r.said));
      assert.deepEqual(
        said.filter((s) => s === 'won').length,
        1,
        `exactly one winner: ${JSON.stringify(said)}`,
      );
      assert.ok(
        said.every((s) => s === 'won' || s === 'locked'),
        JSON.stringify(said),
      );
    } finally {
      for (const r of racers) r.child.kill('SIGKILL');
    }
  });
});
