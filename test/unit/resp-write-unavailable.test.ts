/**
 * A shard worker that dies with requests in flight answers them UNAVAILABLE (src/server/worker-pool.ts):
 * a write among them may have been applied. Over RESP a read so answered is `-TRYAGAIN` (cluster
 * clients retry it), a write `-ERR`: retried, an INCR could count twice (src/resp/worker-reply.ts).
 * Before, every command got `-TRYAGAIN`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dispatch } from '../../src/resp/command-dispatch.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import type { OpHandler } from '../../src/server/worker-pool.js';
import { ST_ERROR } from '../../src/worker/op-format.js';
import { oneShardConnection, takeReply } from '../helpers/fake-resp-connection.js';

const DIED = Buffer.from(
  JSON.stringify({
    code: 'UNAVAILABLE',
    message: 'shard worker 0 exited (code 1) with the request in flight',
  }),
);

/** connection is a RESP connection whose worker answers every op as a worker that died with it in flight. */
function connection(): RespConnection {
  const pool = {
    submit(_w: number, _op: number, _s: number, _k: Uint8Array, _v: unknown, handler: OpHandler): void {
      setImmediate(() => {
        handler.onReply(ST_ERROR, 0, DIED);
      });
    },
  };
  return oneShardConnection(pool);
}

/** run dispatches `args` and returns the reply once the worker's answer is in. */
async function run(...args: string[]): Promise<string> {
  const c = connection();
  dispatch(
    c,
    args.map((a) => Buffer.from(a)),
  );
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  return takeReply(c);
}

describe('RESP answers for a request in flight when its shard worker died', () => {
  it('asks a client to retry a read (-TRYAGAIN)', async () => {
    for (const cmd of [
      ['GET', 'k'],
      ['STRLEN', 'k'],
      ['MGET', 'k', 'k'],
      ['TTL', 'k'],
    ])
      assert.match(await run(...cmd), /^-TRYAGAIN /, cmd.join(' '));
  });

  it('does not ask for a write to be sent again, which may have been applied (-ERR)', async () => {
    for (const cmd of [
      ['INCR', 'k'],
      ['SET', 'k', 'v'],
      ['SET', 'k', 'v', 'NX'],
      ['SETNX', 'k', 'v'],
      ['GETSET', 'k', 'v'],
      ['DEL', 'k'],
      ['MSET', 'k', 'v'],
      ['APPEND', 'k', 'v'],
      ['EXPIRE', 'k', '10'],
    ])
      assert.match(await run(...cmd), /^-ERR shard worker 0 exited/, cmd.join(' '));
  });
});
