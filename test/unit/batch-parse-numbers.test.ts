/**
 * A batch operation's `ttl_ms` or `expires_at_ms` out of range is refused naming the value sent.
 * A number JSON can write but a double cannot hold (`1e400`, read as Infinity) used to be named
 * `null` (JSON.stringify's spelling of Infinity), as if the field had been null.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBatch } from '../../src/http/batch-parse.js';

/** errorOf parses a one-operation batch and returns its error message (or fails when valid). */
function errorOf(op: string): string {
  const [parsed] = parseBatch(Buffer.from(`[${op}]`), 1024, 1024);
  assert.ok(parsed !== undefined && parsed.op === 'invalid', op);
  return parsed.error.message;
}

describe('a batch names the expiry it refuses as sent', () => {
  it('writes an overflowing number as Infinity, not null', () => {
    const set = '{"op":"set","key":"k","value":"v",';
    assert.match(errorOf(`${set}"ttl_ms":1e400}`), /ops\[0\]\.ttl_ms must be an integer .* got Infinity$/);
    assert.match(errorOf(`${set}"ttl_ms":-1e400}`), /got -Infinity$/);
    assert.match(errorOf(`${set}"expires_at_ms":1e400}`), /ops\[0\]\.expires_at_ms must be .* got Infinity$/);
  });

  it('still names other values as their JSON', () => {
    const set = '{"op":"set","key":"k","value":"v",';
    assert.match(errorOf(`${set}"ttl_ms":null}`), /got null$/);
    assert.match(errorOf(`${set}"ttl_ms":"100"}`), /got "100"$/);
    assert.match(errorOf(`${set}"ttl_ms":1.5}`), /got 1\.5$/);
    assert.match(errorOf(`${set}"expires_at_ms":true}`), /got true$/);
  });
});
