/**
 * A DistkvClient's options as JavaScript may pass them: an unknown option (a misspelling such as
 * `nodes` or `timeout`) or one of the wrong kind is refused with INVALID_ARGUMENT naming it, before
 * anything is built. `nodes` for `urls` threw a bare TypeError; `timeout` was ignored silently and
 * `timeoutMs: "5000"` or `retries: -1` went through.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';

const refused = (options: unknown, named: RegExp): void => {
  assert.throws(
    () => new DistkvClient(options as never),
    (err: unknown) =>
      err instanceof DistkvError && err.code === 'INVALID_ARGUMENT' && named.test(err.message),
    JSON.stringify(options),
  );
};

describe('client options', () => {
  it('refuses unknown options and options of the wrong kind, naming them', () => {
    refused({ nodes: ['127.0.0.1:1'] }, /no option "nodes" \(its options: urls, /);
    refused({ urls: ['127.0.0.1:1'], timeout: 5000 }, /no option "timeout"/);
    refused({ urls: [] }, /option urls must be a list of one or more/);
    refused({ urls: '127.0.0.1:1' }, /option urls must be a list/);
    refused({ urls: [8080] }, /option urls must hold strings/);
    refused(
      { urls: ['127.0.0.1:1'], timeoutMs: '5000' },
      /option timeoutMs must be a number of milliseconds from 0 \(no timeout\) to 2147483647, .*, got "5000"/,
    );
    refused({ urls: ['127.0.0.1:1'], timeoutMs: -1 }, /option timeoutMs must be/);
    refused(
      { urls: ['127.0.0.1:1'], retries: -1 },
      /option retries must be a whole number, 0 or more, got -1/,
    );
    refused({ urls: ['127.0.0.1:1'], retries: 1.5 }, /option retries/);
    refused(
      { urls: ['127.0.0.1:1'], connections: 0 },
      /option connections must be a whole number, 1 or more/,
    );
    refused({ urls: ['127.0.0.1:1'], replicaReads: 'yes' }, /option replicaReads must be true or false/);
    refused({ urls: ['127.0.0.1:1'], onWait: 'log' }, /option onWait must be a function/);
    refused({ urls: ['127.0.0.1:1'], ca: 42 }, /option ca must be PEM text or a Buffer/);
    refused(undefined, /takes an options object/);
    refused(['127.0.0.1:1'], /takes an options object/);
    refused({}, /needs urls/);
  });

  it('takes every option of the right kind, and undefined for any but urls', async () => {
    const kv = new DistkvClient({
      urls: ['127.0.0.1:1', 'http://127.0.0.1:2'],
      token: 't',
      replicaReads: true,
      timeoutMs: 0,
      retries: 0,
      connections: 1,
      ca: Buffer.from(''),
      refusedWaitMs: 200,
      onWait: () => undefined,
    });
    await kv.close();
    // An option given as undefined keeps its default: a timeout, not undefined passed to undici.
    const plain = new DistkvClient({
      urls: ['127.0.0.1:1'],
      token: undefined,
      timeoutMs: undefined,
    } as never);
    assert.equal((plain as unknown as { o: { timeoutMs: number } }).o.timeoutMs, 10000);
    await plain.close();
  });
});
