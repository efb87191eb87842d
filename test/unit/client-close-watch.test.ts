/**
 * A watch running when its DistkvClient is closed sends no further request: the stream it has
 * open keeps its answer, but once that ends (or is refused) the watch ends with CLIENT_CLOSED
 * instead of reconnecting. It used to go on reconnecting for ever after close(), a new /watch
 * request every backoff (up to 2 s), to a node the caller had let go of.
 *
 * The twin is a one-shard node whose /watch answers 503 STARTING (a refusal the watch retries);
 * it holds the first one until the test releases it, after close().
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

let twin: HandlerTwin;
let watches = 0;
let held: ServerResponse | undefined;

/** STARTING is the refusal every /watch gets. */
const STARTING = JSON.stringify({ error: { code: 'STARTING', message: 'starting' } });

before(async () => {
  twin = await startOneShardTwin((req, res) => {
    req.resume();
    if (!(req.url ?? '').startsWith('/watch')) {
      res.writeHead(404).end();
      return;
    }
    watches++;
    if (held === undefined && watches === 1) held = res;
    else res.writeHead(503, { 'content-type': 'application/json' }).end(STARTING);
  });
});
after(async () => {
  await twin.stop();
});

/** waitFor polls `cond` every 10 ms for up to 10 s. */
async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await sleep(10);
  assert.ok(cond(), `timed out waiting for ${what}`);
}

describe('DistkvClient.close() during a watch', () => {
  it('ends the watch with CLIENT_CLOSED instead of reconnecting once its stream is refused', async () => {
    const client = new DistkvClient({ urls: [twin.address] });
    // Only so that a failure here does not leave the watch running (and the test process alive).
    const stop = new AbortController();
    let outcome: unknown;
    const consumed = (async () => {
      try {
        for await (const change of client.watch('w/', { signal: stop.signal }))
          assert.fail(`a change after close(): ${change.type}`);
        outcome = 'the watch ended without an error';
      } catch (err) {
        outcome = err;
      }
    })();
    try {
      await waitFor(() => held !== undefined, 'the watch to reach the node');
      await client.close();
      held!.writeHead(503, { 'content-type': 'application/json' }).end(STARTING);
      // The watch's next attempt comes within its first backoff (100 ms): 10 s is ample.
      await waitFor(() => outcome !== undefined, 'the watch to end after close()');
    } finally {
      stop.abort();
      await consumed;
    }
    assert.ok(outcome instanceof DistkvError, String(outcome));
    assert.equal(outcome.code, 'CLIENT_CLOSED', outcome.message);
    assert.equal(watches, 1, 'the watch sent another /watch after close()');
  });
});
