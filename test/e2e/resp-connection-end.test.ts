/**
 * How a RESP connection ends: a client that shuts down its sending side after its commands (as
 * `printf ... | nc -N` does) gets every reply, as from redis-server 7; a WAIT whose client closed
 * the connection stops waiting on the worker (it does not stay blocked until its timeout).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { startOwnServer } from '../helpers/server-process.js';
import { encode, splitReplies, startRespPair, Wire } from './resp-wire.js';

let A = '';
let stopPair = (): Promise<void> => Promise.resolve();
/** lone leads one shard whose replica (another address) is not running: WAIT 1 never gets its ack. */
let lone = '';
let stopLone = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, stop: stopPair } = await startRespPair());
  lone = await freeNodeAddress();
  const absent = await freeNodeAddress();
  ({ stop: stopLone } = await startOwnServer([{ address: lone, replicas: [absent] }], '', [
    '--workers',
    '1',
    '--node',
    lone,
  ]));
});

after(async () => {
  await Promise.all([stopPair(), stopLone()]);
});

/** blockedClients reads INFO's blocked_clients on a new connection to `address`. */
async function blockedClients(address: string): Promise<number> {
  const w = await Wire.open(respOf(address));
  try {
    w.socket.write(encode(['INFO', 'clients']));
    const text = await w.replies(1);
    return Number(/blocked_clients:(\d+)/.exec(text)?.[1] ?? NaN);
  } finally {
    w.close();
  }
}

describe('RESP connection end', () => {
  it('answers every command sent before the client shut down its side, then closes', async () => {
    const commands: string[][] = [['SET', 'half-open', 'v'], ['GET', 'half-open'], ['PING']];
    // More SETs than the first window (4 replies), so parsing stops and resumes after the input ended.
    for (let i = 0; i < 300; i++) commands.push(['SET', `half-open-${i}`, 'x'.repeat(100)]);
    commands.push(['GET', 'half-open-299']);
    const w = await Wire.open(respOf(A));
    try {
      w.socket.end(Buffer.concat(commands.map(encode)));
      const replies = splitReplies(await w.replies(commands.length, 20000));
      assert.equal(replies.length, commands.length, 'a reply for every command');
      assert.deepEqual(replies.slice(0, 3), ['+OK\r\n', '$1\r\nv\r\n', '+PONG\r\n']);
      assert.equal(replies[replies.length - 1], `$100\r\n${'x'.repeat(100)}\r\n`);
      assert.ok(await w.closedWithin(5000), 'the server closes the connection after the replies');
    } finally {
      w.close();
    }
  });

  it('stops a WAIT with no timeout once its client closed the connection', async () => {
    const w = await Wire.open(respOf(lone));
    w.socket.write(Buffer.concat([encode(['SET', 'waited', 'v']), encode(['WAIT', '1', '0'])]));
    assert.equal(await w.replies(1), '+OK\r\n');
    const deadline = Date.now() + 5000;
    while ((await blockedClients(lone)) !== 1 && Date.now() < deadline) await sleep(50);
    assert.equal(await blockedClients(lone), 1, 'the WAIT is blocked: the replica is not running');
    w.close();
    const closedAt = Date.now();
    while ((await blockedClients(lone)) !== 0 && Date.now() - closedAt < 5000) await sleep(100);
    assert.equal(await blockedClients(lone), 0, 'the closed connection no longer waits');
  });

  it('still answers WAIT with the count there is once a finite timeout passes', async () => {
    const w = await Wire.open(respOf(lone));
    try {
      const started = Date.now();
      w.socket.write(Buffer.concat([encode(['SET', 'waited', 'w']), encode(['WAIT', '1', '2500'])]));
      assert.equal(await w.replies(2), '+OK\r\n:0\r\n');
      const took = Date.now() - started;
      assert.ok(took >= 2400 && took < 6000, `WAIT 1 2500 answered after ${took} ms`);
    } finally {
      w.close();
    }
  });
});
