/**
 * A starting node listens for RESP right after HTTP, before its stores open: until it serves, the
 * commands Redis runs while it loads its dataset run (HELLO, INFO with `loading:1`) and the others
 * answer `-LOADING Redis is loading the dataset in memory`; once it serves they run. Before, the
 * RESP port listened only once the stores were open, and the clients peers sent there with -MOVED
 * had their connections refused meanwhile. A start whose stores fail to open closes the RESP
 * listener with the rest.
 *
 * In process (DistkvNode.start), with a shard worker that opens its stores when the test says
 * (test/helpers/gated-start.ts).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DistkvNode } from '../../src/server/node.js';
import { startGated } from '../helpers/gated-start.js';
import { RespConn } from '../helpers/resp-conn.js';
import { respOf } from '../helpers/resp.js';

const LOADING = '-LOADING Redis is loading the dataset in memory\r\n';

/** respConnected connects to `self`'s RESP port, trying for up to 10 s (it listens as the node starts). */
async function respConnected(self: string): Promise<RespConn> {
  const deadline = Date.now() + 10000;
  for (;;) {
    try {
      return await RespConn.open(respOf(self));
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(10);
    }
  }
}

/** refused tells whether a connection to `self`'s RESP port is refused. */
function refused(self: string): Promise<boolean> {
  const { host, port } = respOf(self);
  return new Promise((resolve) => {
    const s = connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => {
      resolve(true);
    });
  });
}

describe('RESP while a node starts', () => {
  it(
    'listens before the stores open, answering -LOADING until the node serves',
    { timeout: 60000 },
    async () => {
      const { started, open, self } = await startGated();
      const conn = await respConnected(self);
      let node: DistkvNode | undefined;
      try {
        const [ping, get, set, hello, info] = await conn.send([
          ['PING'],
          ['GET', 'k'],
          ['SET', 'k', 'v'],
          ['HELLO', '2'],
          ['INFO', 'persistence'],
        ]);
        assert.equal(ping, LOADING);
        assert.equal(get, LOADING);
        assert.equal(set, LOADING);
        assert.match(hello!, /^\*14\r\n/);
        assert.match(info!, /\r\nloading:1\r\n/);
        open('go');
        node = await started;
        const [set2, get2, info2] = await conn.send([
          ['SET', 'k', 'v'],
          ['GET', 'k'],
          ['INFO', 'persistence'],
        ]);
        assert.equal(set2, '+OK\r\n');
        assert.equal(get2, '$1\r\nv\r\n');
        assert.match(info2!, /\r\nloading:0\r\n/);
      } finally {
        conn.close();
        open('go');
        await (node ?? (await started.catch(() => undefined)))?.stop();
      }
    },
  );

  it('closes the RESP listener when the stores fail to open', { timeout: 60000 }, async () => {
    const { started, open, self } = await startGated();
    const conn = await respConnected(self);
    try {
      assert.deepEqual(await conn.send([['GET', 'k']]), [LOADING]);
      open('fail');
      await assert.rejects(started, /exited with code 1 while opening its stores/);
      assert.equal(await refused(self), true, 'the RESP port is closed');
    } finally {
      conn.close();
    }
  });
});
