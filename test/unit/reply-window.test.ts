/**
 * The pipeline window of a front-door connection (src/server/reply-window.ts): it starts at its
 * initial size, follows the byte budget at the answers' mean size, at most doubles per batch and
 * stays within its bounds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maxWindowFor, ReplyWindow } from '../../src/server/reply-window.js';

const MiB = 1024 * 1024;

describe('ReplyWindow', () => {
  it('shrinks at once to the budget over large answers', () => {
    const w = new ReplyWindow(4 * MiB, 1, 128, 4);
    assert.equal(w.size, 4);
    w.fit(4 * (MiB + 100), 4);
    assert.equal(w.size, 3);
    w.fit(2 * 8 * MiB, 2);
    assert.equal(w.size, 1, 'never below its minimum');
  });

  it('grows over small answers by at most doubling per batch, up to its maximum', () => {
    const w = new ReplyWindow(4 * MiB, 1, 128, 4);
    const sizes: number[] = [];
    for (let i = 0; i < 8; i++) {
      w.fit(100 * w.size, w.size);
      sizes.push(w.size);
    }
    assert.deepEqual(sizes, [8, 16, 32, 64, 128, 128, 128, 128]);
  });

  it('ignores a batch of no answers', () => {
    const w = new ReplyWindow(4 * MiB, 1, 128, 4);
    w.fit(0, 0);
    assert.equal(w.size, 4);
  });

  it('caps the window so that many answers of the largest size stay within the cap', () => {
    assert.equal(maxWindowFor(64 * MiB, MiB + 1024, 1, 4096), 63);
    assert.equal(maxWindowFor(64 * MiB, 1024, 1, 4096), 4096);
    assert.equal(maxWindowFor(64 * MiB, 128 * MiB, 1, 4096), 1);
  });
});
