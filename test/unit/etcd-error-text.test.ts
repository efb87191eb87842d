/**
 * etcdErrorText says the etcd client's failures for an operator (src/coordination/etcd-error-text.ts):
 * a refused connection without grpc-js's empty "Resolution note:" (a coordinated node's start error
 * ended with it), a call its circuit breaker held back as not sent, a call past its deadline
 * without per-call timings; anything else as it is.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokenCircuitError } from 'cockatiel';
import { etcdErrorText, HELD_BACK, heldBack } from '../../src/coordination/etcd-error-text.js';

describe('etcdErrorText', () => {
  it('says a refused connection without an empty resolution note', () => {
    const err = new Error(
      '14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:2379. Resolution note: ',
    );
    assert.equal(etcdErrorText(err), 'no connection (connect ECONNREFUSED 127.0.0.1:2379)');
  });

  it('keeps a resolution note that says something', () => {
    const err = new Error(
      '14 UNAVAILABLE: No connection established. Last error: Error: getaddrinfo ENOTFOUND etcd-a. Resolution note: DNS resolution failed for etcd-a:2379',
    );
    assert.equal(
      etcdErrorText(err),
      'no connection (getaddrinfo ENOTFOUND etcd-a; name resolution: DNS resolution failed for etcd-a:2379)',
    );
  });

  it('says a call the circuit breaker held back was not sent', () => {
    const err = new BrokenCircuitError();
    assert.equal(heldBack(err), true);
    assert.equal(etcdErrorText(err), HELD_BACK);
    assert.equal(heldBack(new Error('x')), false);
  });

  it('says a call past its deadline without its timings', () => {
    const err = new Error(
      '4 DEADLINE_EXCEEDED: Deadline exceeded after 1.018s,LB pick: 0.001s,remote_addr=127.0.0.1:2379',
    );
    assert.equal(
      etcdErrorText(err),
      "no answer within the call's deadline (sent to 127.0.0.1:2379, which did not answer)",
    );
  });

  it('keeps any other message as it is', () => {
    assert.equal(
      etcdErrorText(new Error('etcdserver: requested lease not found')),
      'etcdserver: requested lease not found',
    );
    assert.equal(etcdErrorText('plain'), 'plain');
  });
});
