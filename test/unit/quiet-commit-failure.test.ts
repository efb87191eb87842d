/**
 * quietCommitFailure (src/storage/lmdb-env.ts) decides which unhandled rejections a shard worker
 * (workers/shard-worker.ts) logs at debug and survives: only the error lmdb-js rejects a failed
 * commit's writes with (lmdb/write.js `rejectCommit`: that exact message and its own `commitError`,
 * a promise carrying `reject`), one of which nobody holds. Any other, an error of distkv's own whose
 * message merely says "Commit failed" included, must end the thread as every other bug does.
 * test/robustness/lmdb-commit-failure-quiet.test.ts checks it against a real lmdb-js failure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { quietCommitFailure } from '../../src/storage/lmdb-env.js';

/** LmdbCommitFailure is lmdb-js's failed-commit error and how its cause is delivered. */
interface LmdbCommitFailure {
  err: Error;
  /** failCause rejects `commitError` with the cause, as lmdb-js does after it rejected the writes. */
  failCause: () => void;
}

/** lmdbCommitFailure builds an error as lmdb/write.js does for a write of a commit that failed. */
function lmdbCommitFailure(): LmdbCommitFailure {
  let reject: (cause: unknown) => void = () => undefined;
  const commitError = Object.assign(
    new Promise<never>((_, r) => {
      reject = r;
    }),
    {
      reject: (cause: unknown) => {
        reject(cause);
      },
    },
  );
  const err = Object.assign(new Error('Commit failed (see commitError for details)'), { commitError });
  return {
    err,
    failCause: () => {
      commitError.reject(Object.assign(new Error('Input/output error'), { code: 5 }));
    },
  };
}

describe('quietCommitFailure', () => {
  it("quiets lmdb-js's failed-commit error, and its cause is then no unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', record);
    try {
      const { err, failCause } = lmdbCommitFailure();
      assert.equal(quietCommitFailure(err), true);
      failCause();
      // A rejection is reported unhandled once the microtasks after it ran: give it a turn.
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('unhandledRejection', record);
    }
    assert.deepEqual(
      unhandled.map((r) => (r as Error).message),
      [],
      "the commit's cause was left unhandled",
    );
  });

  it('lets an error of distkv\'s own that says "Commit failed" through (the worker ends, as for any bug)', () => {
    assert.equal(quietCommitFailure(new Error('Commit failed')), false);
    assert.equal(quietCommitFailure(new Error('Commit failed: the seq went backwards')), false);
    assert.equal(quietCommitFailure(new DistkvError('INTERNAL', 'Commit failed')), false);
  });

  it("needs lmdb-js's commitError as well as its message", () => {
    const message = 'Commit failed (see commitError for details)';
    assert.equal(quietCommitFailure(new Error(message)), false, 'no commitError');
    assert.equal(
      quietCommitFailure(Object.assign(new Error(message), { commitError: 'EIO' })),
      false,
      'a commitError that is no promise',
    );
    const plain = Promise.resolve();
    assert.equal(
      quietCommitFailure(Object.assign(new Error(message), { commitError: plain })),
      false,
      'a commitError without lmdb-js’s reject',
    );
    const inherited = Object.create(lmdbCommitFailure().err) as Error;
    assert.equal(quietCommitFailure(inherited), false, 'a commitError not its own');
  });

  it('lets what is no Error through', () => {
    for (const reason of [undefined, null, 'Commit failed (see commitError for details)', 5, {}])
      assert.equal(quietCommitFailure(reason), false);
  });
});
