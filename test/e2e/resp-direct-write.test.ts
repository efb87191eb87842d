/**
 * The RESP listener writes replies straight to the socket's handle (src/server/direct-write.ts):
 * pipelined replies arrive whole and in command order, and replies far larger than the socket
 * buffers (40 GETs of a 1 MiB value) reach a client that reads slowly intact. The bound on what a
 * client that reads nothing costs is resp-hostile.test.ts's.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { taggedText } from '../helpers/interleaved-writes.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { respOf } from '../helpers/resp.js';
import { encode, replyEnd, startRespPair } from './resp-wire.js';

let A = '';
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, stop } = await startRespPair());
});

after(() => stop());

/**
 * readReplies sends `commands` and collects `n` replies, reading in bursts with pauses between,
 * the first only after `lateMs`.
 */
function readReplies(commands: Buffer, n: number, lateMs = 0): Promise<string[]> {
  const { host, port } = respOf(A);
  return new Promise((resolve, reject) => {
    const sock: Socket = connect(port, host, () => {
      sock.write(commands);
      if (lateMs > 0) {
        sock.pause();
        setTimeout(() => sock.resume(), lateMs);
      }
    });
    const parts: Buffer[] = [];
    let burst = 0;
    let at = 0;
    let whole: Buffer = Buffer.alloc(0);
    const out: string[] = [];
    sock.on('data', (d: Buffer) => {
      parts.push(d);
      burst += d.length;
      if (burst > 1024 * 1024) {
        burst = 0;
        sock.pause();
        setTimeout(() => sock.resume(), 10);
      }
      // parse once a reply could be complete: cheap enough for tens of MiB
      whole = Buffer.concat([whole.subarray(at), ...parts.splice(0)]);
      at = 0;
      for (let end = replyEnd(whole, at); end >= 0 && at < whole.length; end = replyEnd(whole, at)) {
        out.push(whole.toString('latin1', at, end));
        at = end;
        if (out.length === n) {
          sock.destroy();
          resolve(out);
          return;
        }
      }
    });
    sock.on('error', reject);
  });
}

describe('RESP replies written straight to the socket handle', () => {
  it('answers pipelined SETs and GETs of mixed sizes whole and in order (seeded)', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const cmds: Buffer[] = [];
    const want: string[] = [];
    for (let i = 0; i < 300; i++) {
      const key = `dw${seed}-${i}`;
      const value = taggedText(`${i}`, Math.floor(rnd() * (rnd() < 0.1 ? 500_000 : 2000)));
      cmds.push(encode(['SET', key, value]), encode(['GET', key]), encode(['PING']));
      want.push('+OK\r\n', `$${value.length}\r\n${value}\r\n`, '+PONG\r\n');
    }
    const got = await readReplies(Buffer.concat(cmds), want.length);
    assert.deepEqual(got, want, `DISTKV_SEED=${seed}`);
  });

  it('keeps every reply intact when 60 MB of them queue behind a client that reads late (past the kernel buffers)', async () => {
    const value = taggedText('small', 2000);
    const cmds = [encode(['SET', 'dw-small', value])];
    const want = ['+OK\r\n'];
    for (let i = 0; i < 30000; i++) {
      cmds.push(encode(['GET', 'dw-small']));
      want.push(`$${value.length}\r\n${value}\r\n`);
      if (i % 100 === 0) {
        cmds.push(encode(['ECHO', `${i}`]));
        want.push(`$${`${i}`.length}\r\n${i}\r\n`);
      }
    }
    const got = await readReplies(Buffer.concat(cmds), want.length, 500);
    assert.equal(got.length, want.length);
    for (let i = 0; i < want.length; i++) assert.equal(got[i], want[i], `reply ${i}`);
  });

  it('sends 40 MiB of replies intact to a client that reads slowly', async () => {
    const value = taggedText('big', 1024 * 1024);
    const cmds = [encode(['SET', 'dw-big', value])];
    for (let i = 0; i < 40; i++) cmds.push(encode(['GET', 'dw-big']), encode(['ECHO', `${i}`]));
    const got = await readReplies(Buffer.concat(cmds), 81);
    assert.equal(got[0], '+OK\r\n');
    for (let i = 0; i < 40; i++) {
      assert.equal(got[1 + 2 * i], `$${value.length}\r\n${value}\r\n`, `GET ${i}`);
      assert.equal(got[2 + 2 * i], `$${`${i}`.length}\r\n${i}\r\n`);
    }
  });
});
