/**
 * A watch running when its DistkvClient is closed ends at once with CLIENT_CLOSED: its open stream
 * is closed and no further request is sent. It used to go on reconnecting for ever after close(),
 * a new /watch request every backoff (up to 2 s), to a node the caller had let go of; and a stream
 * that stayed open kept its connection, and delivered changes, after close().
 *
 * The twin is a one-shard node whose /watch answers 503 STARTING (a refusal the watch retries),
 * except the first, which it holds unanswered, and, in the second case, a stream it keeps open.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { sseFrame } from '../../src/watch/watch-event.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

let twin: HandlerTwin;
let watches = 0;
let held: ServerResponse | undefined;
/** streamEnded is set when the open stream of the second case is closed by the client. */
let streamEnded = false;

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
    if ((req.url ?? '').includes('prefix=s%2F')) {
      // An open stream: a hello, then nothing, for as long as the client keeps it.
      res.on('close', () => (streamEnded = true));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sseFrame('{"type":"hello","shards":[0],"elsewhere":{},"cursor":"0:1.1"}', 'hello', '0:1.1'));
      return;
    }
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

/**
 * closedDuring watches `prefix` with a new client, runs `act(client)` while the watch runs (it
 * closes the client), and returns how the watch ended and how many /watch requests the twin got.
 */
async function closedDuring(prefix: string, act: (client: DistkvClient) => Promise<void>): Promise<unknown> {
  const client = new DistkvClient({ urls: [twin.address] });
  // Only so that a failure here does not leave the watch running (and the test process alive).
  const stop = new AbortController();
  let outcome: unknown;
  const consumed = (async () => {
    try {
      for await (const change of client.watch(prefix, { signal: stop.signal }))
        assert.fail(`a change after close(): ${change.type}`);
      outcome = 'the watch ended without an error';
    } catch (err) {
      outcome = err;
    }
  })();
  try {
    await act(client);
    await waitFor(() => outcome !== undefined, 'the watch to end after close()');
  } finally {
    stop.abort();
    await consumed;
  }
  return outcome;
}

/** assertClosedOnce checks that the watch ended with CLIENT_CLOSED after one /watch request. */
function assertClosedOnce(outcome: unknown): void {
  assert.ok(outcome instanceof DistkvError, String(outcome));
  assert.equal(outcome.code, 'CLIENT_CLOSED', outcome.message);
  assert.equal(watches, 1, 'the watch sent another /watch after close()');
}

describe('DistkvClient.close() during a watch', () => {
  it('ends the watch with CLIENT_CLOSED at once, its request unanswered, sending no other', async () => {
    const outcome = await closedDuring('w/', async (client) => {
      await waitFor(() => held !== undefined, 'the watch to reach the node');
      // The held request is not answered: the watch ends on close() alone.
      await client.close();
    });
    held!.writeHead(503, { 'content-type': 'application/json' }).end(STARTING);
    assertClosedOnce(outcome);
  });

  it('closes an open stream at once and ends the watch with CLIENT_CLOSED', async () => {
    watches = 0;
    const outcome = await closedDuring('s/', async (client) => {
      await waitFor(() => watches === 1, 'the watch to open its stream');
      await client.close();
    });
    await waitFor(() => streamEnded, 'the stream to be closed');
    assertClosedOnce(outcome);
  });
});
