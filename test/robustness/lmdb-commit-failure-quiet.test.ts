/**
 * quietCommitFailure (src/storage/lmdb-env.ts) recognises lmdb-js's failed-commit error by its
 * shape (message and `commitError`), so an error of distkv's own that merely says "Commit failed"
 * is not muted (test/unit/quiet-commit-failure.test.ts). This checks that shape against the real
 * thing: an LMDB environment on a small loop-mounted ext4 filesystem written until a commit fails.
 * The write's own error, and every rejection lmdb-js leaves unhandled meanwhile (its own write
 * promise of the batch, held by nobody), must be recognised: a shard worker
 * (workers/shard-worker.ts) ends on any unhandled rejection it does not recognise.
 * Skipped (with the reason) without root or loop devices.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { open } from 'lmdb';
import { quietCommitFailure } from '../../src/storage/lmdb-env.js';
import { loopFsUnavailable, mountLoopFs } from '../helpers/loop-fs.js';
import { tempDir } from '../helpers/temp-dir.js';

const unavailable = loopFsUnavailable();
/** DISK_MIB is the filesystem's size; ROUNDS of BATCH values of VALUE_BYTES are well over it. */
const DISK_MIB = 8;
const ROUNDS = 40;
const BATCH = 4;
const VALUE_BYTES = 256 * 1024;
/** SETTLE_MS lets lmdb-js reject the commit's cause and Node report what is unhandled. */
const SETTLE_MS = 300;
/** CLOSE_MS bounds the wait for the environment's close. */
const CLOSE_MS = 2000;

describe("lmdb-js's failed commit on a full disk", () => {
  it(
    'is recognised by quietCommitFailure, for the write that failed and for what lmdb-js leaves unhandled',
    { skip: unavailable ?? false, timeout: 60_000 },
    async () => {
      const fs = mountLoopFs(tempDir(after), DISK_MIB);
      const unhandled: { message: string; quiet: boolean }[] = [];
      const record = (reason: unknown): void => {
        unhandled.push({
          message: reason instanceof Error ? reason.message : String(reason),
          quiet: quietCommitFailure(reason),
        });
      };
      // node:test fails the test on any unhandled rejection: its listeners are set aside meanwhile,
      // so that this one alone decides, as the shard worker's does.
      const harness = process.listeners('unhandledRejection');
      process.removeAllListeners('unhandledRejection');
      process.on('unhandledRejection', record);
      const env = open({ path: join(fs.mountPoint, 'data.mdb'), noSubdir: true, noSync: true });
      let failed: unknown;
      try {
        const value = Buffer.alloc(VALUE_BYTES, 1);
        for (let i = 0; i < ROUNDS && failed === undefined; i++) {
          const writes: Promise<boolean>[] = [];
          for (let j = 0; j < BATCH; j++) writes.push(env.put(`k${String(i)}-${String(j)}`, value));
          await Promise.all(writes).catch((err: unknown) => {
            failed = err;
          });
        }
        assert.notEqual(failed, undefined, 'no commit failed: the disk did not fill up');
        assert.equal(quietCommitFailure(failed), true, `not recognised: ${String(failed)}`);
        await new Promise((r) => setTimeout(r, SETTLE_MS));
      } finally {
        process.off('unhandledRejection', record);
        for (const l of harness) process.on('unhandledRejection', l);
        // lmdb-js may never settle the close of an environment whose commit failed: bounded.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          env.close().catch(() => undefined),
          new Promise((r) => (timer = setTimeout(r, CLOSE_MS))),
        ]);
        clearTimeout(timer);
        fs.unmount();
      }
      assert.ok(unhandled.length > 0, 'lmdb-js left no rejection unhandled: nothing here was checked');
      assert.deepEqual(
        unhandled.filter((u) => !u.quiet).map((u) => u.message),
        [],
        'a rejection lmdb-js left unhandled was not recognised',
      );
    },
  );
});
