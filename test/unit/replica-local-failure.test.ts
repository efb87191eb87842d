/**
 * A replica's own disk failing is told from its leader (src/replication/local-failure.ts,
 * follower-state-log.ts): an ENOSPC applying records, the commit log's DISK_FULL refusal over it,
 * lmdb-js's "Commit failed" whose cause (`commitError`, a promise) is an errno number, all become a
 * LocalDiskError naming the disk, the store directory and the fix, and the follower's log says
 * "this replica's disk is full", never "the leader is unreachable". A leader's answer, a refused
 * connection or an error of another kind are not local.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { DistkvError } from '../../src/errors.js';
import { FollowerStateLog } from '../../src/replication/follower-state-log.js';
import { LeaderAnswerError } from '../../src/replication/http-answer.js';
import { LocalDiskError, localFailureOf, NEARLY_FULL_BYTES } from '../../src/replication/local-failure.js';
import { tempDir } from '../helpers/temp-dir.js';

const SOURCE = 'http://127.0.0.1:1 shard shard-0';

/** fsError is an error as node:fs throws it. */
function fsError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}, write`), { code, syscall: 'write' });
}

/** lmdbCommitFailure is what lmdb-js rejects a write of a failed commit with: its cause in `commitError`. */
function lmdbCommitFailure(errno: number, text: string): Error {
  const cause = Promise.reject(Object.assign(new Error(text), { code: errno }));
  return Object.assign(new Error('Commit failed (see commitError for details)'), { commitError: cause });
}

describe('localFailureOf', () => {
  const dir = tempDir(after);

  it('says a full disk applying records is this replica’s, naming the errno and the store directory', async () => {
    const f = await localFailureOf(fsError('ENOSPC', 'no space left on device'), dir);
    assert.ok(f instanceof LocalDiskError);
    assert.equal(f.code, 'DISK_FULL');
    assert.equal(f.errno, 'ENOSPC');
    assert.match(f.message, /this replica's disk is full \(ENOSPC, under .+ free\): free space on it/);
    assert.ok(f.message.includes(dir));
  });

  it("reads the errno under the commit log's DISK_FULL refusal", async () => {
    const refusal = new DistkvError('DISK_FULL', 'commit log write failed (disk full); writes are refused', {
      cause: fsError('ENOSPC', 'no space left on device'),
    });
    const f = await localFailureOf(refusal, dir);
    assert.equal(f?.code, 'DISK_FULL');
    assert.equal(f.errno, 'ENOSPC');
    assert.match(f.message, /commit log write failed/);
  });

  it("reads lmdb-js's commit failure cause from its commitError promise (an errno number)", async () => {
    const f = await localFailureOf(lmdbCommitFailure(28, 'No space left on device'), dir);
    assert.equal(f?.code, 'DISK_FULL');
    assert.equal(f.errno, 'ENOSPC');
    assert.match(f.message, /Commit failed \(see commitError for details\): No space left on device/);
  });

  it('takes an EIO on a disk with room for a failing disk, not a full one', async () => {
    const f = await localFailureOf(lmdbCommitFailure(5, 'Input/output error'), dir);
    assert.equal(f?.code, 'DISK_IO_ERROR');
    assert.equal(f.errno, 'EIO');
    assert.match(f.message, /this replica's disk reported an I\/O error/);
    assert.equal(
      (await localFailureOf(fsError('EROFS', 'read-only file system'), dir))?.code,
      'READ_ONLY_FS',
    );
  });

  it("takes an lmdb-js commit's EIO with less free than one snapshot commit and a tenth of the disk for a full disk (a write LMDB could not fit)", async () => {
    const MIB = 1024 * 1024;
    const GIB = 1024 * MIB;
    const eio = (): Error => lmdbCommitFailure(5, 'Input/output error');
    // What test/robustness/replica-disk-full read on its 64 MiB disk after LMDB's commit failed.
    for (const [free, total] of [
      [0, 64 * MIB],
      [MIB + 300 * 1024, 64 * MIB],
      [8 * MIB, 100 * GIB],
      [NEARLY_FULL_BYTES - 1, 100 * GIB],
    ] as const) {
      const f = await localFailureOf(eio(), dir, () => ({ free, total }));
      assert.equal(f?.code, 'DISK_FULL', `EIO with ${String(free)} of ${String(total)} bytes free`);
      assert.equal(f.errno, 'EIO');
      assert.match(
        f.message,
        /this replica's disk is full \(EIO, under .+ free\): LMDB reports a write that did not fit/,
      );
    }
    // More free than one commit, or a tenth of the volume (a small, nearly empty one), or unknown: a failing disk.
    for (const space of [
      { free: NEARLY_FULL_BYTES, total: 100 * GIB },
      { free: 112 * MIB, total: 114 * MIB },
      { free: 20 * MIB, total: 64 * MIB },
      undefined,
    ]) {
      const f = await localFailureOf(eio(), dir, () => space);
      assert.equal(f?.code, 'DISK_IO_ERROR', `EIO with ${JSON.stringify(space)}`);
    }
    // A plain write's EIO is the disk's: the kernel says ENOSPC for a write that does not fit.
    const plain = await localFailureOf(fsError('EIO', 'i/o error'), dir, () => ({
      free: 0,
      total: 64 * MIB,
    }));
    assert.equal(plain?.code, 'DISK_IO_ERROR');
  });

  it("is undefined for the leader's answers, the network and other errors", async () => {
    const answer = new LeaderAnswerError(`pull from ${SOURCE}: HTTP 507 DISK_FULL`, 507, 'DISK_FULL');
    assert.equal(await localFailureOf(answer, dir), undefined);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    assert.equal(await localFailureOf(refused, dir), undefined);
    assert.equal(await localFailureOf(new TypeError('fetch failed', { cause: refused }), dir), undefined);
    assert.equal(
      await localFailureOf(new DistkvError('UNAVAILABLE', 'replica store is not open'), dir),
      undefined,
    );
    assert.equal(
      await localFailureOf(new Error('Commit failed (see commitError for details)'), dir),
      undefined,
    );
  });
});

interface Line {
  level: number;
  msg: string;
  error?: string;
}

describe('the follower log of a local disk failure', () => {
  const dir = tempDir(after);

  it("says the replica's disk is full, not that the leader is unreachable, once until it follows again", async () => {
    const lines: Line[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as Line) });
    const stateLog = new FollowerStateLog(log, SOURCE);
    const full = await localFailureOf(fsError('ENOSPC', 'no space left on device'), dir);
    assert.ok(full !== undefined);
    stateLog.changed('starting', 'resyncing');
    stateLog.changed('resyncing', 'disconnected', full);
    // The resync tried again and failed the same way: no second warn.
    stateLog.changed('disconnected', 'resyncing');
    stateLog.changed('resyncing', 'disconnected', full);
    const warns = lines.filter((l) => l.level === 40);
    assert.equal(warns.length, 1, JSON.stringify(lines));
    assert.match(warns[0]!.msg, /this replica's disk is full: free space on it/);
    assert.ok(!lines.some((l) => l.msg.includes('the leader is unreachable')));
    assert.equal(warns[0]!.error, full.message);
    // Following again, then full again: said again.
    stateLog.changed('disconnected', 'streaming');
    stateLog.changed('streaming', 'disconnected', full);
    assert.equal(lines.filter((l) => l.level === 40).length, 2);
    // Then the leader goes away: that is the leader's.
    stateLog.changed('disconnected', 'streaming');
    stateLog.changed('streaming', 'disconnected', new Error('connect ECONNREFUSED 127.0.0.1:1'));
    assert.match(lines[lines.length - 1]!.msg, /the leader is unreachable/);
  });

  it('says a disk failure that comes while the follower is already disconnected', async () => {
    const lines: Line[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as Line) });
    const stateLog = new FollowerStateLog(log, SOURCE);
    stateLog.changed('starting', 'disconnected', new Error('connect ECONNREFUSED 127.0.0.1:1'));
    const full = await localFailureOf(fsError('ENOSPC', 'no space left on device'), dir);
    stateLog.failedAgain(full);
    stateLog.failedAgain(full);
    assert.equal(
      lines.filter((l) => /this replica's disk is full/.test(l.msg)).length,
      1,
      JSON.stringify(lines),
    );
  });
});
