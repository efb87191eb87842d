/**
 * ReplAdmission (src/http/repl-admission.ts): the bounds a node puts on the replication work it
 * starts on its workers: snapshot streams per store, bytes granted to pulls per worker.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistkvError, statusOf } from '../../src/errors.js';
import {
  PULL_BYTES_PER_WORKER,
  PULL_MIN_GRANT_BYTES,
  ReplAdmission,
  SNAPSHOT_STREAMS_PER_STORE,
} from '../../src/http/repl-admission.js';

const MIB = 1024 * 1024;

function busy(err: unknown): boolean {
  return err instanceof DistkvError && err.code === 'REPLICATION_BUSY' && statusOf(err.code) === 503;
}

describe('ReplAdmission', () => {
  it('refuses a store its next snapshot stream past the bound, and takes one again once a stream ends', () => {
    const a = new ReplAdmission();
    const done = Array.from({ length: SNAPSHOT_STREAMS_PER_STORE }, () => a.snapshot(3, 1));
    assert.throws(() => a.snapshot(3, 1), busy);
    // Another store has slots of its own.
    a.snapshot(4, 2)();
    done[0]?.();
    done[0]?.(); // a second release gives nothing more back
    const again = a.snapshot(3, 1);
    assert.throws(() => a.snapshot(3, 1), busy);
    again();
  });

  it('grants pulls what is left of the worker bound, refuses one left less than its minimum, and frees a grant on release', () => {
    const a = new ReplAdmission();
    const big = 64 * MIB;
    const g1 = a.pull(0, big, 0);
    const g2 = a.pull(0, big, 0);
    assert.equal(g1.bytes + g2.bytes, PULL_BYTES_PER_WORKER);
    assert.throws(() => a.pull(0, MIB, 0), busy);
    // Another worker is not held by this one's pulls.
    assert.equal(a.pull(1, big, 0).bytes, big);
    g1.release();
    g1.release();
    assert.equal(a.pull(0, MIB, 0).bytes, MIB);
    // Left less than asked but at least the minimum: granted what is left.
    const left = a.pull(0, big, 0);
    assert.equal(left.bytes, big - MIB);
    assert.throws(() => a.pull(0, PULL_MIN_GRANT_BYTES, 0), busy);
  });

  it('grants a small ask whole when it fits, never more than asked', () => {
    const a = new ReplAdmission();
    assert.equal(a.pull(0, 4096, 0).bytes, 4096);
    const rest = a.pull(0, PULL_BYTES_PER_WORKER - 4096 - 100, 0);
    assert.equal(rest.bytes, PULL_BYTES_PER_WORKER - 4096 - 100);
    assert.equal(a.pull(0, 100, 0).bytes, 100);
    assert.throws(() => a.pull(0, 1, 0), busy);
  });
});
