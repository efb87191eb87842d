/**
 * The tests' free ports (test/helpers/ports.ts): a port handed out is never handed out again in the
 * same process, nor is one whose RESP twin (port + 1000, where a spawned node also listens) is
 * another's port. CI once failed watch-multi-host with "cannot listen on 127.0.0.1:P: the port is in
 * use" when a node was given a port another test node already held, or was about to.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freePort, freePorts } from '../helpers/ports.js';

describe('test ports', () => {
  it('never hands out a port, or a port whose RESP twin, another was given', async () => {
    // 400 draws from ~20k ports: without the record, several would clash (about 6 expected).
    const ports = [
      ...(await freePorts(200)),
      ...(await Promise.all(Array.from({ length: 200 }, () => freePort()))),
    ];
    const taken = new Map<number, number>();
    for (const [i, p] of ports.entries()) {
      for (const q of [p, p + 1000]) {
        assert.equal(taken.get(q), undefined, `port ${q} of draw ${i} was taken by draw ${taken.get(q)}`);
        taken.set(q, i);
      }
    }
  });
});
