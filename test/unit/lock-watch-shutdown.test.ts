/**
 * A lock waiter's watch stopped by its own signal ends without an error, also when the client is
 * closed right after (the usual shutdown: `ac.abort(); await client.close()`). The watch took the
 * close that came second for the reason it ended and threw CLIENT_CLOSED from the `for await`
 * loop, which WatchOptions.signal says ends "without an error": an unhandled rejection at
 * shutdown. A close that comes first still ends it with CLIENT_CLOSED (client-close-watch.test.ts).
 *
 * The twin is a one-shard node whose /watch keeps an open stream (a hello, then nothing).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { type HelloWatchTwin, startHelloWatchTwin } from '../helpers/twin-server.js';

let twin: HelloWatchTwin;

before(async () => {
  twin = await startHelloWatchTwin();
});
after(async () => {
  await twin.stop();
});

/** endingOf runs a watch of the lock key with a new client, stops it with `stop`, and says how it ended. */
async function endingOf(
  stop: (ac: AbortController, client: DistkvClient) => Promise<void>,
): Promise<unknown> {
  const client = new DistkvClient({ urls: [twin.address] });
  const ac = new AbortController();
  const opened = twin.streams();
  const consumed = (async (): Promise<unknown> => {
    try {
      for await (const change of client.watch('lock/a', { signal: ac.signal }))
        assert.fail(`no change was written: ${change.type}`);
      return 'ended without an error';
    } catch (err) {
      return err;
    }
  })();
  for (let i = 0; i < 1000 && twin.streams() === opened; i++) await sleep(10);
  assert.ok(twin.streams() > opened, 'the watch never opened its stream');
  await stop(ac, client);
  const outcome = await consumed;
  await client.close();
  return outcome;
}

describe('a lock waiter shutting down its watch', () => {
  it('ends without an error when its signal is aborted and the client closed at once after', async () => {
    const outcome = await endingOf(async (ac, client) => {
      ac.abort();
      await client.close();
    });
    assert.equal(outcome, 'ended without an error', String(outcome));
  });

  it('still ends with CLIENT_CLOSED when the client is closed before the signal is aborted', async () => {
    const outcome = await endingOf(async (ac, client) => {
      await client.close();
      ac.abort();
    });
    assert.ok(outcome instanceof DistkvError, String(outcome));
    assert.equal(outcome.code, 'CLIENT_CLOSED');
  });
});
