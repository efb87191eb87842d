/**
 * A shard worker answers a batch of GETs of large values in parts (src/worker/op-runner.ts,
 * "Parts"): a batch that arrives behind it (another client's small GET) runs between two parts
 * instead of after the whole batch, and the ops of one key still run in arrival order.
 *
 * Before, the worker ran each batch whole: a small GET sent right after a window of 24 GETs of
 * 1 MiB values was answered after all 24 of them (0.1-1 s behind another client's window on a
 * loaded machine, and every value copied three times meanwhile).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { OP_GET, OP_PUT, OP_WAIT, ST_DONE, ST_VALUE } from '../../src/worker/op-format.js';
import { Positions } from '../../src/replication/positions.js';
import { ReplyReader } from '../../src/worker/op-codec.js';
import { ShardHost } from '../../src/worker/shard-host.js';
import { tempDir } from '../helpers/temp-dir.js';
import { openTestHost, runOps, testStoreSpec, untilReplies } from '../helpers/worker-host.js';

const MIB = 1024 * 1024;
const KEYS = 4;
/** LARGE_GETS of 1 MiB values: six parts of PART_BYTES (4 MiB, src/worker/op-runner.ts). */
const LARGE_GETS = 24;
/** WAITED_AT_MOST large replies come before the small GET's: two parts. */
const WAITED_AT_MOST = 8;

/** big is the 1 MiB value of `big-<k>` (its first bytes name it, the rest is one letter). */
function big(k: number, tag = 'old'): Buffer {
  const b = Buffer.alloc(MIB, 97 + k);
  b.write(`${tag}-${k}-`);
  return b;
}

describe('a batch of GETs of large values on a shard worker', () => {
  it('is answered in parts: a later batch runs between them, and the ops of a key keep their order', async () => {
    const dir = tempDir(after);
    const h = await openTestHost(dir);
    after(() => h.host.close());
    runOps(h.host, (w) => {
      for (let k = 0; k < KEYS; k++) w.add(k + 1, OP_PUT, 0, `big-${k}`, big(k));
      w.add(10, OP_PUT, 0, 'small', 'small');
    });
    await untilReplies(h.replies, [1, 2, 3, 4, 10]);
    h.replies.clear();

    // One client's window of large GETs, then (in the same turn, as from another connection) a
    // small GET, a write on a key the window still reads, a read of that key, and an OP_WAIT.
    const large = Array.from({ length: LARGE_GETS }, (_, i) => 100 + i);
    runOps(h.host, (w) => {
      for (const id of large) w.add(id, OP_GET, 0, `big-${(id - 100) % KEYS}`, undefined);
    });
    runOps(h.host, (w) => {
      w.add(200, OP_GET, 0, 'small', undefined);
      w.add(201, OP_PUT, 0, 'big-3', big(3, 'new'));
      w.add(202, OP_GET, 0, 'big-3', undefined);
      w.add(203, OP_WAIT, 0, '', Buffer.alloc(8), 0, 1000);
    });
    await untilReplies(h.replies, [...large, 200, 201, 202, 203]);
    assert.deepEqual(h.answeredTwice, []);

    const order = [...h.replies.keys()];
    const smallAt = order.indexOf(200);
    const lastLarge = Math.max(...large.map((id) => order.indexOf(id)));
    assert.ok(
      smallAt < lastLarge,
      `the small GET was answered after all ${LARGE_GETS} large ones (reply ${smallAt + 1} of ${order.length})`,
    );
    assert.ok(smallAt <= WAITED_AT_MOST, `the small GET waited ${smallAt} large replies`);
    assert.deepEqual(h.replies.get(200), {
      status: ST_VALUE,
      seq: h.replies.get(200)!.seq,
      value: Buffer.from('small'),
    });

    // Every large GET read the value before the write sent after it, the GET after the write its value.
    for (const id of large) {
      const k = (id - 100) % KEYS;
      const r = h.replies.get(id)!;
      assert.equal(r.status, ST_VALUE, `GET ${id}`);
      assert.ok(r.value.equals(big(k)), `GET ${id} of big-${k} read ${r.value.subarray(0, 8).toString()}`);
    }
    assert.equal(h.replies.get(201)!.status, ST_DONE);
    assert.ok(h.replies.get(202)!.value.equals(big(3, 'new')), 'the GET after the write reads it');
    assert.equal(h.replies.get(203)!.status, ST_DONE);
  });

  it('answers a scan after the ops sent before it and before those sent after it, and a stats call at once', async () => {
    const dir = tempDir(after);
    // The order in which replies and control results leave the worker.
    const events: string[] = [];
    const host = await ShardHost.open(
      [testStoreSpec(join(dir, 'node', 'shard'))],
      new SharedArrayBuffer(Positions.bytesFor(1)),
      (msg) => {
        if (msg.type === 'replies') {
          const r = new ReplyReader(msg.buffer, msg.length);
          while (r.next()) events.push(`op ${r.id}`);
        } else if ('id' in msg) events.push(`${msg.type} ${msg.id}`);
      },
    );
    after(() => host.close());
    runOps(host, (w) => {
      for (let k = 0; k < KEYS; k++) w.add(k + 1, OP_PUT, 0, `big-${k}`, big(k));
    });
    const until = async (what: string): Promise<void> => {
      for (let i = 0; i < 2000 && !events.includes(what); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(events.includes(what), `no ${what}`);
    };
    await until(`op ${KEYS}`);
    events.length = 0;
    const large = Array.from({ length: LARGE_GETS }, (_, i) => 100 + i);
    runOps(host, (w) => {
      for (const id of large) w.add(id, OP_GET, 0, `big-${(id - 100) % KEYS}`, undefined);
    });
    assert.ok(events.length < LARGE_GETS, 'part of the batch waits for a later turn');
    host.handle({ type: 'stats', id: 1 });
    host.handle({
      type: 'scan',
      id: 2,
      store: 0,
      prefix: Buffer.from('big-'),
      after: null,
      limit: 10,
      maxBytes: 1024,
    });
    runOps(host, (w) => {
      w.add(300, OP_GET, 0, 'missing', undefined);
    });
    assert.ok(events.includes('stats-result 1'), 'a stats call is answered at once');
    assert.ok(events.length < LARGE_GETS, 'a stats call does not run the backlog');
    await until('op 300');
    const scanAt = events.indexOf('scan-result 2');
    const lastLarge = Math.max(...large.map((id) => events.indexOf(`op ${id}`)));
    assert.ok(lastLarge < scanAt, `a GET sent before the scan was answered after it: ${events.join(', ')}`);
    assert.ok(scanAt < events.indexOf('op 300'), 'the GET sent after the scan was answered before it');
  });
});
