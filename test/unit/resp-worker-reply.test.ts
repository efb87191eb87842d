/**
 * A shard worker's error becomes the RESP error a cluster client acts on (src/resp/worker-reply.ts):
 * the retryable ones `-TRYAGAIN` (retried after a pause), the rest `-ERR`. A write a failover
 * holds (SWITCHING_LEADER) was not executed and is retried: it was `-ERR`, failing the command.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorText } from '../../src/resp/worker-reply.js';

const reply = (code: string, message: string): Uint8Array => Buffer.from(JSON.stringify({ code, message }));

describe('worker errors over RESP', () => {
  it('answers TRYAGAIN for a write held by a failover, and for a store not open', () => {
    const held = "store 0 holds writes while its shard's leader is switched; retry shortly";
    assert.equal(errorText(reply('SWITCHING_LEADER', held)), `TRYAGAIN ${held}`);
    assert.equal(errorText(reply('STARTING', 'store 1 is opening')), 'TRYAGAIN store 1 is opening');
  });

  it('answers ERR for the rest', () => {
    assert.equal(errorText(reply('INVALID_ARGUMENT', 'bad')), 'ERR bad');
    assert.equal(errorText(Buffer.from('not json')), 'ERR malformed error reply from a shard worker');
  });
});
