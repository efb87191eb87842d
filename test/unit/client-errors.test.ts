/**
 * The client rebuilds typed errors from the server's answers: the JSON catalogue body keeps its
 * code, and a plain-text (seed) body falls back to the code of its HTTP status.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorOf } from '../../src/client/wire-decode.js';
import { DistkvError } from '../../src/errors.js';
import { errorBody } from '../../src/http/respond.js';

describe('client errorOf', () => {
  it('keeps the code and message of a catalogue error body', () => {
    const e = errorOf(
      409,
      Buffer.from(errorBody(new DistkvError('CONFIG_MISMATCH', 'give every node the same file'))),
    );
    assert.equal(e.code, 'CONFIG_MISMATCH');
    assert.equal(e.status, 409);
    assert.equal(e.message, 'give every node the same file');
  });

  it('falls back to the status for text bodies and unknown codes', () => {
    assert.equal(errorOf(503, Buffer.from('Service Unavailable')).status, 503);
    assert.equal(errorOf(503, Buffer.from('Service Unavailable')).message, 'Service Unavailable');
    assert.equal(errorOf(404, Buffer.from('{"error":{"code":"NOPE","message":"x"}}')).status, 404);
    assert.equal(errorOf(500, Buffer.alloc(0)).message, 'HTTP 500');
  });
});
