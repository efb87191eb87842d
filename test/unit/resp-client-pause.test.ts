/**
 * ClientPause (src/resp/client-pause.ts), the state behind CLIENT PAUSE and UNPAUSE: which
 * commands each mode holds (redis-server 7.0's rules), how a second PAUSE widens the pause, and
 * the order held connections are released in.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientPause, PAUSE_MODE } from '../../src/resp/client-pause.js';
import { lookup } from '../../src/resp/command-table.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import { fakeConnection } from '../helpers/fake-resp-connection.js';

/** holds asks `pause` whether it holds `words` on an authenticated connection (or not). */
function holds(pause: ClientPause, words: string[], authenticated = true): boolean {
  const c = fakeConnection({ authenticated });
  return pause.holds(
    c,
    lookup(words[0]!),
    words.map((w) => Buffer.from(w)),
  );
}

describe('ClientPause', () => {
  it('holds only writes in WRITE mode, every command but QUIT in ALL, and nothing refused before it would run', () => {
    const p = new ClientPause();
    assert.equal(holds(p, ['SET', 'k', 'v']), false, 'no pause');
    p.pause(Date.now() + 60000, PAUSE_MODE.write);
    for (const w of [
      ['SET', 'k', 'v'],
      ['DEL', 'k'],
      ['INCR', 'k'],
      ['GETDEL', 'k'],
      ['EXPIRE', 'k', '1'],
    ])
      assert.equal(holds(p, w), true, w.join(' '));
    for (const w of [['GET', 'k'], ['PING'], ['WAIT', '0', '0'], ['CLIENT', 'UNPAUSE'], ['EXEC']])
      assert.equal(holds(p, w), false, w.join(' '));
    p.pause(0, PAUSE_MODE.all);
    assert.equal(p.mode, PAUSE_MODE.all, 'a stricter mode wins, even with an end already past');
    for (const w of [['GET', 'k'], ['CLIENT', 'UNPAUSE'], ['MULTI'], ['EXEC']])
      assert.equal(holds(p, w), true, w.join(' '));
    assert.equal(holds(p, ['QUIT']), false);
    assert.equal(holds(p, ['GET']), false, 'a wrong argument count is answered at once');
    assert.equal(holds(p, ['NOSUCH', 'x']), false, 'an unknown command is answered at once');
    assert.equal(holds(p, ['GET', 'k'], false), false, 'NOAUTH is answered at once');
    assert.equal(holds(p, ['AUTH', 'x'], false), true, 'AUTH runs before authentication, so it is held');
    p.close();
  });

  it('sets nothing for an end already past when no pause is in force (CLIENT PAUSE 0)', () => {
    const p = new ClientPause();
    p.pause(0, PAUSE_MODE.all);
    p.pause(Date.now() - 1, PAUSE_MODE.write);
    assert.equal(p.mode, PAUSE_MODE.off);
  });

  it('ends at its timeout and releases the held connections in the order they were held', async () => {
    const p = new ClientPause();
    const order: string[] = [];
    const conn = (name: string): RespConnection =>
      ({
        resume: () => {
          order.push(name);
        },
      }) as unknown as RespConnection;
    p.pause(Date.now() + 30, PAUSE_MODE.write);
    p.pause(Date.now() + 10, PAUSE_MODE.write); // an earlier end does not shorten it
    const [a, b, c] = [conn('a'), conn('b'), conn('c')];
    p.hold(b);
    p.hold(a);
    p.hold(c);
    p.forget(a);
    assert.equal(p.holding, 2);
    const deadline = Date.now() + 10000;
    while (order.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(order, ['b', 'c']);
    assert.equal(p.mode, PAUSE_MODE.off);
    assert.equal(p.holding, 0);
  });
});
