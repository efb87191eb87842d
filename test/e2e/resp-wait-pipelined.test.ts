/**
 * WAIT covers the writes pipelined before it (docs/resp.md): one shard led by node A with a
 * replica on node B, each its own process. With B paused (SIGSTOP), `SET` then `WAIT 1 T` sent in
 * one write must answer 0: no replica holds the SET. WAIT used to take its seqs when it was read,
 * before the SET it follows was acknowledged, so it waited for what B already held and answered 1.
 *
 * B counts as paused once every thread of it is stopped (pauseProcess), not when SIGSTOP is sent:
 * on a loaded machine B's worker thread ran on for tens of ms after the kill returned, pulled the
 * new SET, acknowledged it, and WAIT rightly answered 1 (CI, once).
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TestCluster } from '../helpers/cluster.js';
import { pauseProcess } from '../helpers/process-pause.js';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { tempDir } from '../helpers/temp-dir.js';

let cluster: TestCluster;
let A = '';
let B = '';

before(async () => {
  A = await freeNodeAddress();
  B = await freeNodeAddress();
  cluster = await TestCluster.start({ dir, shards: [{ address: A, replicas: [B] }] });
  await cluster.following();
});

after(async () => {
  await cluster.stop();
});

// Created here, not in before(): see resp-failover.test.ts.
const dir = tempDir(after);

/** Conn is one RESP connection that sends a pipeline in one write and reads its whole answer. */
class Conn {
  private readonly socket: Socket;
  private got = '';
  private waiter: (() => void) | undefined;

  constructor(node: string) {
    const { host, port } = respOf(node);
    this.socket = connect(port, host);
    this.socket.on('data', (d) => {
      this.got += d.toString('latin1');
      this.waiter?.();
    });
  }

  /** send writes `text` in one write and returns the answer once `bytes` bytes came back. */
  async send(text: string, bytes: number): Promise<string> {
    this.got = '';
    this.socket.write(text);
    const deadline = Date.now() + 15000;
    while (this.got.length < bytes) {
      if (Date.now() > deadline) throw new Error(`no full answer in 15 s: ${JSON.stringify(this.got)}`);
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 100);
      });
    }
    return this.got;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** setThenWait is `SET key value` and `WAIT 1 ms` as one pipeline. */
function setThenWait(key: string, value: string, ms: number): string {
  const bulk = (x: string): string => `$${x.length}\r\n${x}\r\n`;
  return `*3\r\n${bulk('SET')}${bulk(key)}${bulk(value)}*3\r\n${bulk('WAIT')}${bulk('1')}${bulk(String(ms))}`;
}

describe('RESP WAIT after pipelined writes', { timeout: 120000 }, () => {
  it('counts only replicas that hold the writes sent before it in the same pipeline', async () => {
    const c = new Conn(A);
    const b = cluster.process(B);
    try {
      // B follows A and holds every write so far: the second WAIT waits for the SET's ack.
      assert.equal(await c.send(setThenWait('a', '1', 5000), 9), '+OK\r\n:1\r\n');
      assert.equal(await c.send('*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$4\r\n5000\r\n', 4), ':1\r\n');
      // Not the kill alone: B's threads may run on after it (process-pause.ts).
      await pauseProcess(b.child);
      // A new connection has no writes of its own before the pipeline: WAIT must still cover its SET
      // (it waited for the store's last seq before the SET, which B held, and answered 1).
      for (let i = 0; i < 3; i++) {
        const fresh = new Conn(A);
        try {
          assert.equal(
            await fresh.send(setThenWait(`c${i}`, String(i), 300), 9),
            '+OK\r\n:0\r\n',
            `new connection ${i}: WAIT 1 after a SET no replica holds`,
          );
        } finally {
          fresh.close();
        }
      }
      for (let i = 0; i < 3; i++)
        assert.equal(
          await c.send(setThenWait('b', String(i), 300), 9),
          '+OK\r\n:0\r\n',
          `round ${i}: WAIT 1 after a SET no replica holds`,
        );
    } finally {
      b.child.kill('SIGCONT');
      c.close();
    }
  });
});
