import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { TurnFlush } from '../../src/resp/turn-flush.js';

describe('TurnFlush', () => {
  it('flushes every connection scheduled in one turn at the end of that turn, in order', async () => {
    const t = new TurnFlush();
    const seen: string[] = [];
    const conn = (name: string): { flush(): void } => ({
      flush: () => {
        seen.push(name);
      },
    });
    const [a, b] = [conn('a'), conn('b')];
    t.schedule(a);
    t.schedule(b);
    assert.deepEqual(seen, [], 'nothing is written before the end of the turn');
    await nextTurn();
    assert.deepEqual(seen, ['a', 'b']);
    await nextTurn();
    assert.deepEqual(seen, ['a', 'b'], 'a flushed connection is not flushed again unless scheduled');
  });

  it('runs a flush scheduled by another flush in the next turn, not in the running one', async () => {
    const t = new TurnFlush();
    const seen: string[] = [];
    const later = {
      flush: () => {
        seen.push('later');
      },
    };
    const first = {
      flush: () => {
        seen.push('first');
        t.schedule(later);
      },
    };
    t.schedule(first);
    await nextTurn();
    assert.deepEqual(seen, ['first']);
    await nextTurn();
    assert.deepEqual(seen, ['first', 'later']);
  });
});
