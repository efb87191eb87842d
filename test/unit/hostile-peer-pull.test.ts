/**
 * A replica's HttpSource against a broken or hostile leader (fake ones: node:http servers on
 * loopback): every read of the leader has a byte and a time bound, and an answer the replica
 * cannot trust is an error naming the leader (the follower retries it), never a result.
 *
 *  - a pull's body that claims (Content-Length) or sends more than `max_bytes` plus one batch is
 *    refused, unread or once it passes the bound; before, it was gathered whole (up to the memory
 *    the replica had);
 *  - a pull's body trickled a byte at a time, never ending, fails within its bound (the idle
 *    timeout alone never fired);
 *  - a refusal's endless body is read only in part; a `/cluster` trickled after a CONFIG_MISMATCH
 *    refusal is given up within its bound;
 *  - an `X-Distkv-Epoch` that is not an epoch, or records of an epoch above the leader's, are an
 *    error (read as NaN, the epoch went past the stale-leader check and into the replica's log);
 *  - a snapshot whose entry claims a 4 GiB value is refused at its head, not gathered; one that
 *    ends early (holds, before too) is an error.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { afterEach, describe, it } from 'node:test';
import type { HttpSource } from '../../src/replication/http-source.js';
import {
  encodeSnapshotEntries,
  encodeSnapshotHeader,
  SnapshotDecoder,
} from '../../src/replication/snapshot-format.js';
import { FakePeers, messageOf, settled, sourceOf } from '../helpers/fake-peer.js';

const peers = new FakePeers();
let timers: NodeJS.Timeout[] = [];

afterEach(async () => {
  for (const t of timers) clearInterval(t);
  timers = [];
  await peers.close();
});

/** trickle writes one byte of `byte` every `ms` until the connection goes. */
function trickle(res: ServerResponse, ms: number, byte = '{'): void {
  const t = setInterval(() => {
    if (res.destroyed) clearInterval(t);
    else res.write(byte);
  }, ms);
  timers.push(t);
}

/** snapshotRead is how reading the whole snapshot of `s` settled within `ms` (see settled). */
function snapshotRead(s: HttpSource, ms: number): Promise<unknown> {
  return settled(
    s.snapshot().then(async (snap) => {
      for await (const chunk of snap.chunks) assert.ok(Array.isArray(chunk));
    }),
    ms,
  );
}

describe('a pull from a hostile leader', () => {
  it('refuses a body whose Content-Length claims more than an answer can be, unread', async () => {
    const leader = await peers.start((_req, res) => {
      res.writeHead(200, { 'content-length': String(5 * 1024 * 1024 * 1024) });
      res.write(Buffer.alloc(1024));
      // then nothing: the rest never comes
    });
    const s = sourceOf(leader, { bodyIdleMs: 20000 });
    try {
      const outcome = await settled(s.pull(0, 1 << 20, 50), 3000);
      assert.match(messageOf(outcome), /Content-Length 5368709120 is more than the \d+ bytes it can be/);
      assert.match(messageOf(outcome), new RegExp(`pull from http://${leader}`));
    } finally {
      await s.close();
    }
  });

  it('refuses an endless body once it passes max_bytes and one batch', async () => {
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024, 1);
    const leader = await peers.start((_req, res) => {
      res.writeHead(200);
      const pump = (): void => {
        while (!res.destroyed && sent < 256 * 1024 * 1024 && res.write(chunk)) sent += chunk.length;
        if (!res.destroyed && sent < 256 * 1024 * 1024) res.once('drain', pump);
      };
      pump();
    });
    const s = sourceOf(leader, { pullSlackBytes: 4 * 1024 * 1024 });
    try {
      const outcome = await settled(s.pull(0, 1 << 20, 50), 10000);
      assert.match(messageOf(outcome), /the body passed 5242880 bytes, more than it can be/);
      assert.ok(sent < 64 * 1024 * 1024, `the leader sent ${sent} bytes before the replica stopped reading`);
    } finally {
      await s.close();
    }
  });

  it('gives up a body trickled a byte at a time within its bound (slowloris)', async () => {
    const leader = await peers.start((_req, res) => {
      res.writeHead(200);
      trickle(res, 100, '\x00');
    });
    const s = sourceOf(leader, { pullBodyMs: 1000 });
    try {
      const started = Date.now();
      const outcome = await settled(s.pull(0, 1 << 20, 50), 6000);
      assert.match(messageOf(outcome), /the body did not end within 1000 ms/);
      assert.ok(Date.now() - started < 4000);
    } finally {
      await s.close();
    }
  });

  it('reads only the start of a refusal with an endless body', async () => {
    const leader = await peers.start((_req, res) => {
      res.writeHead(503);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    const s = sourceOf(leader);
    try {
      const outcome = await settled(s.pull(0, 1 << 20, 50), 5000);
      assert.match(messageOf(outcome), /HTTP 503 a{200}$/);
    } finally {
      await s.close();
    }
  });

  it("gives up a /cluster trickled after a CONFIG_MISMATCH refusal (the refusal is the pull's error)", async () => {
    const leader = await peers.start((req, res) => {
      if (req.url?.startsWith('/cluster') === true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        trickle(res, 200, '[');
        return;
      }
      res
        .writeHead(409, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: 'CONFIG_MISMATCH', message: 'another config' } }));
    });
    const s = sourceOf(leader, {
      configHash: 'aaaa',
      copy: { idx: 0, name: 's0', first: 0, last: 16383 },
    });
    try {
      const outcome = await settled(s.pull(0, 1 << 20, 50), 8000);
      assert.match(messageOf(outcome), /HTTP 409 .*CONFIG_MISMATCH/);
    } finally {
      await s.close();
    }
  });

  for (const [what, headers, why] of [
    [
      'an X-Distkv-Epoch that is not an epoch',
      { 'x-distkv-epoch': 'banana' },
      /x-distkv-epoch "banana" is not an epoch/,
    ],
    [
      'records of an epoch above the leader',
      { 'x-distkv-epoch': '2', 'x-distkv-records-epoch': '7' },
      /records of epoch 7 from a leader in epoch 2/,
    ],
  ] as const)
    it(`refuses an answer with ${what}`, async () => {
      const leader = await peers.start((_req, res) => {
        res.writeHead(204, { 'x-distkv-leader-seq': '0', ...headers }).end();
      });
      const s = sourceOf(leader);
      try {
        const outcome = await settled(s.pull(0, 1 << 20, 50), 3000);
        assert.match(messageOf(outcome), why);
      } finally {
        await s.close();
      }
    });
});

describe('a snapshot from a hostile leader', () => {
  /** hugeEntry is a snapshot header and one entry head that claims a value of 4 GiB - 1. */
  const hugeEntry = (): Buffer => {
    const head = encodeSnapshotEntries([{ key: Buffer.from('k'), value: Buffer.alloc(0), seq: 1 }], false);
    head.writeUInt32LE(0xffffffff, 2);
    return Buffer.concat([encodeSnapshotHeader(5), head]);
  };

  it('refuses an entry that claims a 4 GiB value at its head (the decoder)', () => {
    const d = new SnapshotDecoder();
    assert.throws(
      () => d.push(hugeEntry()),
      /value length 4294967295 is over the 67108864 bytes a value can be/,
    );
  });

  it('refuses an entry that claims a 4 GiB value at its head, not gathering it (over HTTP)', async () => {
    const leader = await peers.start((_req, res) => {
      res.writeHead(200);
      res.write(hugeEntry());
      trickle(res, 50, 'x');
    });
    const s = sourceOf(leader);
    try {
      const outcome = await snapshotRead(s, 5000);
      assert.match(messageOf(outcome), /value length 4294967295/);
    } finally {
      await s.close();
    }
  });

  it('refuses a snapshot that ends early (holds)', async () => {
    const leader = await peers.start((_req, res) => {
      res.writeHead(200);
      res.end(
        Buffer.concat([
          encodeSnapshotHeader(5),
          encodeSnapshotEntries([{ key: Buffer.from('k'), value: Buffer.from('v'), seq: 1 }], false),
        ]),
      );
    });
    const s = sourceOf(leader);
    try {
      const outcome = await snapshotRead(s, 5000);
      assert.match(messageOf(outcome), /the stream ended early/);
    } finally {
      await s.close();
    }
  });
});
