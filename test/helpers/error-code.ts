/**
 * The stable code of the error a call throws (src/errors.ts), for tests that assert which mistake
 * was refused.
 */
import assert from 'node:assert/strict';
import { DistkvError } from '../../src/errors.js';

/** errorCode runs `fn` and returns the code of the DistkvError it throws, or 'none' when it returns. */
export function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DistkvError, `not a DistkvError: ${String(err)}`);
    return err.code;
  }
  return 'none';
}
