/**
 * A RESP client that pipelines GETs of large values and reads nothing must not make the listener
 * build every reply (src/resp/resp-connection.ts, "Flow control"): the connection executes about
 * a window of them (a few MiB of replies) plus what the kernel's buffers take, and the rest wait
 * unparsed. The number executed is read from INFO's total_commands_processed on a second
 * connection while the first reads nothing; then the first reads and gets every reply in order.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { taggedText } from '../helpers/interleaved-writes.js';
import { readPaused } from '../helpers/raw-http.js';
import { respOf } from '../helpers/resp.js';
import { encode, exchange, startRespPair } from './resp-wire.js';

const VALUE_BYTES = 1024 * 1024;
const KEYS = 8;
const GETS = 128;

let A = '';
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, stop } = await startRespPair());
});

after(() => stop());

/** commandsProcessed reads total_commands_processed (which counts this INFO too) from node A. */
async function commandsProcessed(): Promise<number> {
  const text = await exchange(respOf(A), [['INFO', 'stats']]);
  const m = /total_commands_processed:(\d+)/.exec(text);
  assert.ok(m, text);
  return Number(m[1]);
}

function open(): Promise<Socket> {
  const { host, port } = respOf(A);
  return new Promise((resolve, reject) => {
    const sock = connect(port, host, () => {
      resolve(sock);
    });
    sock.once('error', reject);
  });
}

describe('RESP replies a client does not read', () => {
  it(`executes far fewer than ${GETS} pipelined GETs of 1 MiB values while the client reads nothing, then replies to all in order`, async (t) => {
    const values: string[] = [];
    for (let k = 0; k < KEYS; k++) {
      const value = taggedText(`r${k}`, VALUE_BYTES);
      values.push(value);
      assert.equal(await exchange(respOf(A), [['SET', `{u}unread-${k}`, value]]), '+OK\r\n');
    }
    const before = await commandsProcessed();
    const sock = await open();
    sock.pause();
    const gets = Array.from({ length: GETS }, (_, i) => encode(['GET', `{u}unread-${i % KEYS}`]));
    sock.write(Buffer.concat(gets));
    await sleep(1000);
    // Less the INFO that reads the count.
    const executed = (await commandsProcessed()) - before - 1;
    t.diagnostic(`${executed} of ${GETS} GETs executed while the client read nothing`);
    assert.ok(
      executed < 24,
      `${executed} of ${GETS} GETs of 1 MiB values were executed for a client reading nothing`,
    );

    const reply = (v: string): string => `$${v.length}\r\n${v}\r\n`;
    const total = Array.from({ length: GETS }, (_, i) => reply(values[i % KEYS]!).length).reduce(
      (a, b) => a + b,
    );
    const got = await readPaused(sock, total);
    assert.equal(got.length, total);
    let at = 0;
    for (let i = 0; i < GETS; i++) {
      const want = reply(values[i % KEYS]!);
      assert.equal(got.toString('latin1', at, at + want.length), want, `reply ${i}`);
      at += want.length;
    }
    sock.destroy();
  });
});
