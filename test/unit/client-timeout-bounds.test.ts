/**
 * A DistkvClient's timeoutMs at its limits. `cluster()` gives each configured node but the last
 * one attempt's time (AbortSignal.timeout(timeoutMs)), and a timer cannot wait longer than
 * 2^31-1 ms: a timeoutMs of 3e9 (meant as "for ever") was taken as 1 ms there, so the first node
 * was never asked, and Number.MAX_SAFE_INTEGER made cluster() throw a RangeError. 0, which the
 * options take and undici reads as "no timeout" for every request, aborted that attempt at once,
 * and bounded a `w` write's wait for its answer by the node's own wait for replicas alone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

/** ANSWER_AFTER_MS is how long the first node takes to answer /cluster: slow, not down. */
const ANSWER_AFTER_MS = 50;
/** ASKS is how many times cluster() is called per client (a process's very first call raced its timer). */
const ASKS = 3;
/**
 * HELD_MS is how long the first node holds a write: past the 100 ms `w` wait it was given (a loaded
 * node), and past the second that undici's coarse timers may fire late.
 */
const HELD_MS = 2000;

/** nodesAsked is the `node` of each of ASKS cluster() answers of `kv`, which it then closes. */
async function nodesAsked(kv: DistkvClient): Promise<string[]> {
  const out: string[] = [];
  try {
    for (let i = 0; i < ASKS; i++) out.push((await kv.cluster()).node);
  } finally {
    await kv.close();
  }
  return out;
}

describe('client timeoutMs at its limits', () => {
  let first: HandlerTwin;
  let second: HandlerTwin;
  before(async () => {
    first = await startHandlerTwin((req, res) => {
      if (req.method === 'PUT') {
        req.resume().on('end', () => setTimeout(() => res.writeHead(204).end(), HELD_MS));
        return;
      }
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(first.address));
      }, ANSWER_AFTER_MS);
    });
    second = await startHandlerTwin((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(second.address));
    });
  });
  after(async () => {
    await first.stop();
    await second.stop();
  });

  it('timeoutMs 0 is no timeout in cluster() too: the first node is asked and waited for', async () => {
    const kv = new DistkvClient({ urls: [first.address, second.address], timeoutMs: 0 });
    assert.deepEqual(await nodesAsked(kv), Array<string>(ASKS).fill(first.address));
  });

  it('timeoutMs 0 is no timeout for a w write too: its answer is waited for past its w wait', async () => {
    const kv = new DistkvClient({ urls: [first.address], timeoutMs: 0, retries: 0 });
    try {
      await kv.put('k', 'v', { w: 1, timeoutMs: 100 });
    } finally {
      await kv.close();
    }
  });

  it('refuses a timeoutMs longer than a timer can wait, naming the bound', () => {
    for (const timeoutMs of [2 ** 31, 3e9, Number.MAX_SAFE_INTEGER])
      assert.throws(
        () => new DistkvClient({ urls: [first.address, second.address], timeoutMs }),
        (err: unknown) =>
          err instanceof DistkvError &&
          err.code === 'INVALID_ARGUMENT' &&
          /option timeoutMs must be a number of milliseconds from 0 \(no timeout\) to 2147483647/.test(
            err.message,
          ),
        String(timeoutMs),
      );
  });

  it('takes the longest timeoutMs a timer can wait, and cluster() asks the first node', async () => {
    const kv = new DistkvClient({ urls: [first.address, second.address], timeoutMs: 2 ** 31 - 1 });
    assert.deepEqual(await nodesAsked(kv), Array<string>(ASKS).fill(first.address));
  });
});
