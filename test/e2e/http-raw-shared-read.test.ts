/**
 * The front door reads every connection of a listener into one buffer (src/server/shared-read.ts):
 * a read's bytes are overwritten by the next read of any connection. These tests interleave
 * connections whose requests arrive split at every kind of boundary (inside a head, inside a
 * body, between pipelined requests, while reading is paused) and check that every request is
 * answered with exactly its own bytes. A seeded random schedule finds splits not listed here
 * (DISTKV_SEED replays one).
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type TestServer, get, put, startTestServer } from './http-raw-fixture.js';
import { taggedText, writeInterleaved } from '../helpers/interleaved-writes.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { parseResponses } from './http-raw-wire.js';

let srv: TestServer;

before(async () => {
  srv = await startTestServer();
});

after(() => {
  srv.stop();
});

/** Client is one raw connection that collects what the server sends. */
interface Client {
  sock: Socket;
  received: Buffer[];
}

function open(port: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const c: Client = { sock, received: [] };
    sock.on('data', (d: Buffer) => c.received.push(d));
    sock.once('connect', () => {
      resolve(c);
    });
    sock.once('error', reject);
  });
}

/** bodiesOf waits until `n` responses arrived on `c` (or 10 s) and returns their bodies. */
async function bodiesOf(c: Client, n: number): Promise<string[]> {
  const deadline = Date.now() + 10000;
  for (;;) {
    const r = parseResponses(Buffer.concat(c.received), () => false, false);
    if (r.responses.length >= n || Date.now() > deadline)
      return r.responses.map((x) => `${x.status} ${x.body.toString()}`);
    await sleep(5);
  }
}

describe('one read buffer shared by the connections of a listener', () => {
  it('keeps a head and a body split across reads while another connection reads in between', async () => {
    const a = await open(srv.port);
    const b = await open(srv.port);
    const valueA = taggedText('A', 3000);
    const reqA = put('/store/split-a', valueA) + get('/store/split-a');
    // A: half a head; B: a whole request of other bytes; A: into the body; B again; A: the rest.
    const cuts = [20, reqA.indexOf('\r\n\r\n') + 4 + 1000, reqA.length];
    let from = 0;
    for (const [i, cut] of cuts.entries()) {
      a.sock.write(reqA.slice(from, cut));
      from = cut;
      await sleep(30);
      b.sock.write(put(`/store/split-b${i}`, taggedText(`B${i}`, 5000)));
      await sleep(30);
    }
    assert.deepEqual(await bodiesOf(a, 2), ['204 ', `200 ${valueA}`]);
    assert.equal((await bodiesOf(b, 3)).length, 3);
    for (let i = 0; i < 3; i++) assert.equal(srv.store.get(`split-b${i}`), taggedText(`B${i}`, 5000));
    a.sock.destroy();
    b.sock.destroy();
  });

  it('keeps the unread rest of a connection whose reading paused (128 answers pending)', async () => {
    const a = await open(srv.port);
    const b = await open(srv.port);
    // 200 slow requests: reading pauses at 128 with the rest of the input held.
    let reqs = '';
    for (let i = 0; i < 200; i++) reqs += get(`/later?ms=50&i=${i}`);
    a.sock.write(reqs + put('/store/paused', taggedText('P', 2000)) + get('/store/paused'));
    await sleep(20);
    for (let i = 0; i < 20; i++) b.sock.write(put(`/store/other${i}`, taggedText(`O${i}`, 4000)));
    const got = await bodiesOf(a, 202);
    assert.equal(got.length, 202);
    for (let i = 0; i < 200; i++) assert.equal(got[i], `200 later ${i}`);
    assert.equal(got[201], `200 ${taggedText('P', 2000)}`);
    a.sock.destroy();
    b.sock.destroy();
  });

  it('answers every request of connections written in random pieces (seeded)', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const conns = 6;
    const clients = await Promise.all(Array.from({ length: conns }, () => open(srv.port)));
    const expected: string[][] = [];
    const streams: string[] = [];
    for (let c = 0; c < conns; c++) {
      let s = '';
      const want: string[] = [];
      for (let i = 0; i < 25; i++) {
        const key = `r${seed}-${c}-${i}`;
        const value = taggedText(`${c}.${i}`, Math.floor(rnd() * 6000));
        s += put(`/store/${key}`, value) + get(`/store/${key}`);
        want.push('204 ', `200 ${value}`);
      }
      streams.push(s);
      expected.push(want);
    }
    await writeInterleaved(
      clients.map((c) => c.sock),
      streams.map((x) => Buffer.from(x, 'latin1')),
      rnd,
      900,
    );
    for (let c = 0; c < conns; c++) {
      const got = await bodiesOf(clients[c]!, expected[c]!.length);
      assert.deepEqual(got, expected[c], `connection ${c}, DISTKV_SEED=${seed}`);
      clients[c]!.sock.destroy();
    }
  });
});
