/**
 * What a restore that stopped says the cluster holds: with no key written, not "part of the
 * backup, so run it again with --force" (said to a user whose restore onto a full disk wrote none).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stoppedAfter } from '../../src/cli/restore-writer.js';

describe('a restore that stopped', () => {
  it('says it wrote no key, without sending the user to --force', () => {
    assert.match(
      stoppedAfter(0),
      /^the restore stopped before any key was written: run it again once that is fixed/,
    );
    assert.doesNotMatch(stoppedAfter(0), /holds part of the backup/);
  });

  it('says how many keys it wrote, and --force, once it wrote some', () => {
    assert.match(
      stoppedAfter(3),
      /after writing 3 keys: the cluster holds part of the backup, so run it again with --force/,
    );
  });
});
