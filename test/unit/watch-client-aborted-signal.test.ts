/**
 * A client watch given an AbortSignal that is already aborted ends at once, as one aborted while it
 * runs does (the iteration ends without an error, no /watch sent): it waited for changes for ever,
 * since an aborted signal fires no 'abort' event. Options of the wrong type from JavaScript are
 * refused with INVALID_ARGUMENT naming them: a numeric `from` threw a bare TypeError ("text.split
 * is not a function") and `values: "no"` sent values.
 *
 * The twin is a one-shard node whose /watch streams a hello and then nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
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

/** within resolves with `p`'s outcome, or 'TIMEOUT' after `ms`. */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'TIMEOUT'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'TIMEOUT'>(
    (resolve) =>
      (timer = setTimeout(() => {
        resolve('TIMEOUT');
      }, ms)),
  );
  return Promise.race([p, late]).finally(() => {
    clearTimeout(timer);
  });
}

describe('a client watch', () => {
  it('given a signal aborted already ends at once without an error, no /watch sent', async () => {
    for (const loaded of [false, true]) {
      const kv = new DistkvClient({ urls: [twin.address], retries: 0 });
      try {
        if (loaded) await kv.topology();
        const seen = twin.streams();
        const it = kv.watch('p/', { signal: AbortSignal.abort() });
        const r = await within(it.next(), 3000);
        assert.deepEqual(r, { done: true, value: undefined }, `map loaded before: ${String(loaded)}`);
        assert.equal(twin.streams(), seen, 'no /watch request');
      } finally {
        await kv.close();
      }
    }
  });

  it('refuses options of the wrong type with INVALID_ARGUMENT naming them', async () => {
    const kv = new DistkvClient({ urls: [twin.address], retries: 0 });
    try {
      const cases: [unknown, RegExp][] = [
        [{ from: 5 }, /^watch option from must be a cursor or version E\.S as a string, got number$/],
        [{ values: 'no' }, /^watch option values must be true or false, got "no"$/],
        [{ progress: 1 }, /^watch option progress must be true or false, got number$/],
        [null, /^watch options must be an object, got null$/],
      ];
      for (const [options, message] of cases) {
        const seen = twin.streams();
        await assert.rejects(kv.watch('p/', options as never).next(), (err: unknown) => {
          assert.ok(err instanceof DistkvError, String(err));
          assert.equal(err.code, 'INVALID_ARGUMENT');
          assert.match(err.message, message);
          return true;
        });
        assert.equal(twin.streams(), seen, 'no /watch request');
      }
    } finally {
      await kv.close();
    }
  });
});
