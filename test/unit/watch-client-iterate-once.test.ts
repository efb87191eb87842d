/**
 * A client watch is iterated once: a second `for await` over the same watch object, while the
 * first runs or after it ended, throws INVALID_ARGUMENT saying so (watch-call.ts), and the first
 * loop goes on unharmed. Two loops over one watch split its events between them, and the first to
 * stop ended the other without a word. Found by tester-65.
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

/** isIteratedTwice tells the refusal of a second loop over one watch. */
function isIteratedTwice(err: unknown): boolean {
  assert.ok(err instanceof DistkvError, String(err));
  assert.equal(err.code, 'INVALID_ARGUMENT');
  assert.match(err.message, /^this watch is iterated already: a watch can be looped over once/);
  return true;
}

/** settled is how `p` settled within `ms`: its error, 'done', or 'TIMEOUT' (a loop still waiting). */
async function settled(p: Promise<void>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>(
    (resolve) =>
      (timer = setTimeout(() => {
        resolve('TIMEOUT');
      }, ms)),
  );
  try {
    return await Promise.race([
      p.then(
        () => 'done',
        (err: unknown) => err,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a client watch looped over twice', () => {
  it('refuses the second loop, while the first runs and after it ended', async () => {
    const kv = new DistkvClient({ urls: [twin.address], retries: 0 });
    const ac = new AbortController();
    const loops: Promise<void>[] = [];
    try {
      const w = kv.watch('p/', { signal: ac.signal });
      let seen = 0;
      const loop = (): Promise<void> => {
        const p = (async () => {
          for await (const ev of w) seen += ev.type === 'progress' ? 0 : 1;
        })();
        loops.push(p.catch(() => undefined));
        return p;
      };
      const first = loop();
      const deadline = Date.now() + 5000;
      while (twin.streams() === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(twin.streams(), 1, 'the watch stream');
      assert.ok(isIteratedTwice(await settled(loop(), 3000)));
      ac.abort();
      assert.equal(await settled(first, 3000), 'done', 'the first loop ends without an error');
      assert.equal(seen, 0);
      assert.ok(isIteratedTwice(await settled(loop(), 3000)));
    } finally {
      ac.abort();
      await kv.close();
      await Promise.all(loops);
    }
  });
});
