/**
 * A RESP connection's replies to GETs of large values, against a spawned `distkv serve` over
 * loopback: they go to the socket as they arrive from the shard worker, not gathered for the whole
 * turn (src/resp/resp-output.ts, "Large replies").
 *
 * A client that grew its window with small GETs, then pipelines GETs of 1 MiB values and reads
 * nothing, makes the node build a window of about 63 MiB of answers. Gathered whole, they reached
 * the socket, and `server.max_unsent_bytes`, only once the last was built: the client was closed
 * holding 62 MiB unsent against a budget of 8 MiB, and the node had spent the time (seconds on a
 * loaded machine) building what nobody would read. Written as they come, the budget closes the
 * client once its unsent bytes pass the budget, holding the budget and a value or two more.
 *
 * A client that reads gets every reply of a pipeline mixing large and small values whole and in
 * order, however its replies were cut into writes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { count, putLargeKeys } from '../helpers/large-keys.js';
import { openRaw, until } from '../helpers/raw-conn.js';
import { respOf } from '../helpers/resp.js';
import { startOneNode } from '../helpers/server-process.js';
import { encode, exchange } from './resp-wire.js';

const MIB = 1024 * 1024;
const BUDGET = 8 * MIB;
const KEYS = 4;
/** WARM_GETS of a small value grow the connection's window to its cap (63 with 1 MiB values). */
const WARM_GETS = 512;
const LARGE_GETS = 100;
/**
 * HELD_AT_MOST bounds what the closed client held unsent: the budget, and a few values written
 * between the write that passed it and the check that closes it (a microtask after that write).
 * Gathering the turn's replies whole, it held about 62 MiB.
 */
const HELD_AT_MOST = BUDGET + 4 * MIB;

let node: Awaited<ReturnType<typeof startOneNode>>;
const values: string[] = [];

before(async () => {
  node = await startOneNode(`[server]\nmax_unsent_bytes = ${BUDGET}\nidle_timeout_ms = 60000\n`);
  values.push(...(await putLargeKeys(node.address, 'v', KEYS, MIB)));
});

after(async () => {
  await node.stop();
});

async function evictedClients(): Promise<number> {
  const text = await exchange(respOf(node.address), [['INFO', 'stats']]);
  return Number(/evicted_clients:(\d+)/.exec(text)![1]);
}

describe('RESP replies to GETs of large values', () => {
  it('reach the unsent budget as they are built: a client that reads nothing is closed holding about the budget, not its whole window', async (t) => {
    const c = await openRaw(respOf(node.address).port);
    t.after(() => c.sock.destroy());
    c.sock.write(Buffer.concat(Array.from({ length: WARM_GETS }, () => encode(['GET', 'small']))));
    await until(() => count(c.text(), '$5\r\nsmall\r\n') >= WARM_GETS || c.closed(), 20000);
    assert.equal(count(c.text(), '$5\r\nsmall\r\n'), WARM_GETS, 'the small GETs were answered');
    c.sock.pause();
    c.sock.write(
      Buffer.concat(Array.from({ length: LARGE_GETS }, (_, i) => encode(['GET', `big-${i % KEYS}`]))),
    );
    // A paused socket does not see its close: the node's count says when it is closed.
    let evicted = 0;
    const deadline = Date.now() + 40000;
    while (evicted === 0 && Date.now() < deadline) {
      await sleep(50);
      evicted = await evictedClients();
    }
    assert.equal(evicted, 1, 'the client reading nothing was closed by the budget');
    const logged = node.server.stdout.split('\n').filter((l) => l.includes('server.max_unsent_bytes'));
    assert.equal(logged.length, 1, 'one log line for the closed client');
    const held = Number(/"unsent_bytes":(\d+)/.exec(logged[0]!)![1]);
    t.diagnostic(`closed holding ${(held / MIB).toFixed(1)} MiB unsent (budget ${BUDGET / MIB} MiB)`);
    assert.ok(held > BUDGET, `closed holding ${held} bytes, within the budget`);
    assert.ok(
      held <= HELD_AT_MOST,
      `closed holding ${(held / MIB).toFixed(1)} MiB unsent: its replies reached the budget only once ` +
        `many were built (at most ${HELD_AT_MOST / MIB} MiB expected)`,
    );
  });

  it('a client that reads gets a pipeline of large and small values whole and in order', async () => {
    const ROUNDS = 3;
    const args: string[][] = [];
    for (let i = 0; i < 40; i++) args.push(['GET', i % 3 === 2 ? 'small' : `big-${i % KEYS}`]);
    const expected = args
      .map(([, key]) => {
        const v = key === 'small' ? 'small' : values[Number(key!.slice(4))]!;
        return `$${v.length}\r\n${v}\r\n`;
      })
      .join('');
    for (let r = 0; r < ROUNDS; r++) {
      const got = await exchange(respOf(node.address), args);
      assert.equal(got.length, expected.length, `round ${r}: the replies' length`);
      assert.ok(got === expected, `round ${r}: the replies differ from the values, in order`);
    }
  });
});
