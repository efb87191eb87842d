/**
 * A batch operation whose condition failed is a PreconditionFailedError carrying the key's current
 * version as the node sent it beside the error (`{"ok":false,"version":"0.17","error":{...}}`,
 * docs/api.md "Batches with conditions"), null when the key does not exist: what put() rejects
 * with for the same refusal. batchResult dropped `version` and gave a plain DistkvError, so a
 * compare-and-set loop over batch() had to read the key again. Found by tester-65; fails on the
 * code before the fix.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchResult, type WireResult } from '../../src/client/batch-wire.js';
import { PreconditionFailedError } from '../../src/errors.js';

describe('batch() results of a failed condition', () => {
  it('are PreconditionFailedErrors carrying the version the node sent', () => {
    const wire = {
      ok: false,
      version: '0.12425',
      error: {
        code: 'PRECONDITION_FAILED',
        message: "the condition does not hold: the key's version is 0.12425",
      },
    } as WireResult;
    const r = batchResult(wire, '127.0.0.1:8080', 0);
    if (r.ok) assert.fail('the operation succeeded');
    assert.equal(r.error.code, 'PRECONDITION_FAILED');
    assert.ok(r.error instanceof PreconditionFailedError, `got ${r.error.constructor.name}`);
    assert.equal(r.error.version, '0.12425');
  });

  it('carry version null when the key does not exist', () => {
    const wire = {
      ok: false,
      version: null,
      error: { code: 'PRECONDITION_FAILED', message: 'the condition does not hold: the key does not exist' },
    } as unknown as WireResult;
    const r = batchResult(wire, '127.0.0.1:8080', 0);
    if (r.ok) assert.fail('the operation succeeded');
    assert.ok(r.error instanceof PreconditionFailedError, `got ${r.error.constructor.name}`);
    assert.equal(r.error.version, null);
  });
});
