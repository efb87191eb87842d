/**
 * Reads after writes on one connection at a `--proxy` node that relays the writes to the shard's
 * leader and holds a replica of that shard itself (src/http/own-writes.ts). The replica served the
 * reads, and it may not have pulled the write yet: a tester's pipelined PUT, GET, DELETE, GET got
 * 404 after the acknowledged PUT, and the value after the acknowledged DELETE, in 28 of 30 rounds,
 * each with `X-Distkv-Lag: 0`; a scan read the previous value. docs/api.md ("Pipelining") promises
 * that a read sent after writes on the same connection sees them, those relayed included.
 *
 * Duo: A leads shard 0, B leads shard 1 and holds a replica of shard 0; both `--proxy`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Duo } from '../helpers/duo.js';
import { rawRequest } from '../helpers/raw-http.js';

let duo: Duo;

before(async () => {
  duo = await Duo.start('read-own-writes', { replicaOfA: true, args: ['--proxy', '--inline'] });
});

after(async () => {
  await duo.stop();
});

/** answers splits the pipelined answers in `text` into status and body (Content-Length bodies). */
function answers(text: string): { status: number; body: string }[] {
  const out: { status: number; body: string }[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const head = text.slice(at, end);
    const status = Number(head.split(' ')[1]);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? '0');
    out.push({ status, body: text.slice(end + 4, end + 4 + length) });
    at = end + 4 + length;
  }
  return out;
}

describe('reads after writes a --proxy node relayed to the leader, on one connection', () => {
  it('see the writes, though the node holds a replica of the shard', async () => {
    const key = duo.keyOf(0, 'own-');
    const [, port] = duo.B.split(':');
    const ROUNDS = 20;
    const wrong: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const value = `v${round}`;
      const host = `Host: ${duo.B}\r\n`;
      const requests =
        `PUT /kv/${key} HTTP/1.1\r\n${host}Content-Length: ${value.length}\r\n\r\n${value}` +
        `GET /kv/${key} HTTP/1.1\r\n${host}\r\n` +
        `GET /kv?prefix=${key} HTTP/1.1\r\n${host}\r\n` +
        `DELETE /kv/${key} HTTP/1.1\r\n${host}\r\n` +
        `GET /kv/${key} HTTP/1.1\r\n${host}\r\n`;
      const text = await rawRequest(Number(port), requests, {
        host: duo.B.slice(0, duo.B.lastIndexOf(':')),
        idleMs: 10000,
        until: (got) => answers(got).length >= 5,
      });
      const [put, get, scan, del, gone] = answers(text);
      const seen = [
        put?.status === 204,
        get?.status === 200 && get.body === value,
        scan?.status === 200 && scan.body.includes(`"${value}"`),
        del?.status === 204,
        gone?.status === 404,
      ];
      if (!seen.every(Boolean))
        wrong.push(
          `round ${round}: ${[put, get, scan, del, gone].map((a) => `${a?.status} ${a?.body.slice(0, 60)}`).join(' | ')}`,
        );
    }
    assert.deepEqual(
      wrong,
      [],
      `${wrong.length} of ${ROUNDS} rounds read a state older than their own writes`,
    );
  });
});
