/**
 * Gather (src/resp/gather.ts) weighs a multi-key command's keys in its connection's window while
 * it gathers (ReplyQueue.hold) and takes that weight back exactly once when it answers, whether
 * with the values or with the error of a reply past its bound: a weight taken back twice left the
 * window's depth negative, so the connection let that many more replies wait than its window
 * holds, and a QUIT never saw its depth reach 0.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Gather } from '../../src/resp/gather.js';
import type { LocalTarget } from '../../src/resp/key-route.js';
import { ReplyQueue } from '../../src/resp/reply-queue.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import type { OpHandler } from '../../src/server/worker-pool.js';
import { ST_VALUE } from '../../src/worker/op-format.js';

/** mget gathers `n` keys in rounds of `roundKeys`, each answered with `valueBytes`, under a reply bound of `maxBytes`; returns the queue and the reply. */
function mget(
  n: number,
  roundKeys: number,
  valueBytes: number,
  maxBytes: number,
): { queue: ReplyQueue; reply: string } {
  const queue = new ReplyQueue(
    () => undefined,
    () => undefined,
  );
  let gathered = 0;
  const c = {
    queue,
    proto: 2,
    gone: false,
    ctx: { config: { server: { max_unsent_bytes: maxBytes } } },
    noteWrite: () => undefined,
    noteGathered: (bytes: number) => {
      gathered += bytes;
    },
  } as unknown as RespConnection;
  const handlers: OpHandler[] = [];
  new Gather(
    c,
    { store: 0 } as LocalTarget,
    n,
    'value',
    (_c, _t, _i, h) => handlers.push(h),
    (w, g) => {
      w.array(g.values.length);
      for (const v of g.values)
        if (v === undefined) w.nil();
        else w.bulk(v);
    },
    roundKeys,
  );
  for (let i = 0; i < handlers.length; i++) handlers[i]!.onReply(ST_VALUE, 1, Buffer.alloc(valueBytes, 0x61));
  assert.equal(gathered, 0, 'what the command kept is given back');
  return { queue, reply: queue.out.view().toString('latin1') };
}

describe('Gather: the window weight of a multi-key command', () => {
  for (const [n, roundKeys] of [
    [2, 2],
    [4, 2],
    [7, 3],
    [5, 0],
  ] as const)
    it(`takes back the weight of its ${n} keys once (rounds of ${roundKeys || n}), answered whole or past its bound`, () => {
      const whole = mget(n, roundKeys, 8, 1000);
      assert.match(whole.reply, new RegExp(`^\\*${n}\\r\\n`));
      assert.equal(whole.queue.depth, 0);
      const refused = mget(n, roundKeys, 8, 24);
      assert.match(refused.reply, /^-ERR reply of more than 12 bytes/);
      assert.equal(refused.queue.depth, 0, 'the window holds nothing once the error is answered');
    });
});
