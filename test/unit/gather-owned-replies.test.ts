/**
 * Which replies the main thread owns (src/server/worker-link.ts, OpHandler): a worker thread's
 * reply batches, cloned by postMessage into a buffer of the main thread's own, are; the inline
 * host's, handed over by a call on the same thread, are not. An MGET over a worker thread then
 * sends its large values from the reply batches themselves (src/resp/gather.ts, "Views").
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { dispatch } from '../../src/resp/command-table.js';
import { RespWriter } from '../../src/resp/resp-format.js';
import { INLINE, type OpHandler, WorkerPool } from '../../src/server/worker-pool.js';
import { OP_GET, OP_PUT, type OpCode, ST_DONE, ST_VALUE } from '../../src/worker/op-format.js';
import { oneShardConnection } from '../helpers/fake-resp-connection.js';
import { tempDir } from '../helpers/temp-dir.js';
import { testStoreSpec } from '../helpers/worker-host.js';

const ENTRY = new URL('../../workers/shard-worker.js', import.meta.url);
const MIB = 1024 * 1024;
const KEYS = 8;

const keyOf = (i: number): string => `{m}k${i}`;
const valueOf = (i: number): Buffer => Buffer.alloc(MIB, i + 1);

/** Seen is one reply a handler was given. */
interface Seen {
  status: number;
  value: Buffer;
  owned: boolean | undefined;
}

function op(pool: WorkerPool, code: OpCode, key: string, value?: Buffer): Promise<Seen> {
  return new Promise((resolve) => {
    pool.submit(0, code, 0, key, value, {
      onReply: (status, _seq, v, owned) => {
        resolve({ status, value: Buffer.from(v), owned });
      },
    });
  });
}

/** started is a pool of one worker (a thread, or INLINE) on store 0 holding KEYS values of 1 MiB. */
async function started(entry: URL | typeof INLINE, prefix: string): Promise<WorkerPool> {
  const spec = testStoreSpec(tempDir(after, prefix), 0, 'lmdb');
  const pool = new WorkerPool([[spec]], entry, pino({ level: 'silent' }), 'silent');
  await pool.start();
  after(() => pool.stop());
  for (let i = 0; i < KEYS; i++) assert.equal((await op(pool, OP_PUT, keyOf(i), valueOf(i))).status, ST_DONE);
  return pool;
}

describe('reply batches the main thread owns', () => {
  it("marks a worker thread's replies owned and the inline host's not", async () => {
    const threaded = await started(ENTRY, 'distkv-gather-owned-');
    const inline = await started(INLINE, 'distkv-gather-inline-');
    const a = await op(threaded, OP_GET, keyOf(3));
    const b = await op(inline, OP_GET, keyOf(3));
    assert.equal(a.status, ST_VALUE);
    assert.equal(b.status, ST_VALUE);
    assert.ok(a.value.equals(valueOf(3)) && b.value.equals(valueOf(3)));
    assert.equal(a.owned, true, "a worker thread's reply is owned");
    assert.notEqual(b.owned, true, "the inline host's reply is not");
  });

  for (const [name, entry] of [
    ['a worker thread', ENTRY],
    ['the inline host', INLINE],
  ] as const) {
    it(`answers an MGET of 1 MiB values over ${name} with each key's bytes, from the reply batches only when owned`, async () => {
      const pool = await started(entry, 'distkv-gather-mget-');
      // Each reply's value as the pool hands it over, to tell a view of it from a copy.
      const given: Buffer[] = [];
      const watched = {
        submit(
          w: number,
          code: OpCode,
          s: number,
          k: Uint8Array,
          v: Uint8Array | undefined,
          h: OpHandler,
        ): void {
          pool.submit(w, code, s, k, v, {
            onReply: (status, seq, value, owned) => {
              given.push(value);
              h.onReply(status, seq, value, owned);
            },
          });
        },
      };
      const c = oneShardConnection(watched);
      const keys = Array.from({ length: KEYS }, (_, i) => keyOf(i));
      dispatch(c, [Buffer.from('MGET'), ...keys.map((k) => Buffer.from(k))]);
      const w = new RespWriter(2);
      w.array(KEYS);
      for (let i = 0; i < KEYS; i++) w.bulk(valueOf(i));
      const whole = w.take();
      const deadline = Date.now() + 10_000;
      while (c.queue.out.length < whole.length) {
        assert.ok(Date.now() < deadline, 'the MGET was answered within 10 s');
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok(c.queue.out.view().equals(whole), "every byte of the reply is the keys'");
      const chunks = c.queue.out.chunks();
      const views = given.filter((v) => chunks.some((ch) => ch.buffer === v.buffer)).length;
      assert.equal(given.length, KEYS);
      assert.equal(views, entry === INLINE ? 0 : KEYS, 'values sent from their reply batches');
    });
  }
});
