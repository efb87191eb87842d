/**
 * A replica's snapshot stream bounded in bytes (src/http/repl-routes.ts SNAPSHOT_PAGE_BYTES),
 * across processes over loopback: a leader holding 80 values of 1 MiB and a seeded mix of keys
 * that are not UTF-8 with values of every size 0..max_value_bytes, whose log no longer holds
 * seq 1. Each page the leader writes (one HTTP chunk) stays within 4 MiB plus one entry, the stream
 * decodes to exactly the leader's data, and a new replica catching up by snapshot ends with exactly
 * the leader's data. Prints its seed when it fails (DISTKV_SEED replays).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SnapshotDecoder } from '../../src/replication/snapshot-format.js';
import { freePorts } from '../helpers/ports.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { type ServerProcess, startConfigNode, writeConfig } from '../helpers/server-process.js';

const MIB = 1024 * 1024;
/**
 * LARGE values of 1 MiB come first in key order, four to a page: at least LARGE / 4 pages. 80 (with
 * the mix, some 110 MiB) show the bound as 200 did (the stream without it was one page of every value)
 * in less than half the time: writing, streaming and catching up are each linear in the bytes.
 */
const LARGE = 80;
const MIXED = 80;
/** PAGE_MAX is one page at most: 4 MiB of keys and values, one more entry, and the entries' heads. */
const PAGE_MAX = 4 * MIB + MIB + 64 * 1024;

let dir = '';
let A = '';
let B = '';
let config = '';
const running: ServerProcess[] = [];
const seed = testSeed();
/** model maps each key's percent-encoded path to its value. */
const model = new Map<string, Buffer>();

function start(node: string, data: string): Promise<ServerProcess> {
  return startConfigNode(config, node, join(dir, data), running);
}

/** pathOf percent-encodes every byte of `key`, so bytes that are not UTF-8 travel as they are. */
function pathOf(key: Buffer): string {
  return [...key].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');
}

function mixedKey(rand: () => number, i: number): Buffer {
  const alphabet = [0x00, 0x2f, 0x61, 0x80, 0xc0, 0xe9, 0xff];
  const tail = Array.from(
    { length: Math.floor(rand() * 6) },
    () => alphabet[Math.floor(rand() * alphabet.length)]!,
  );
  return Buffer.from([0x6d, i & 0xff, ...tail]);
}

function mixedSize(rand: () => number): number {
  const boundaries = [0, 1, MIB - 1, MIB];
  const r = rand();
  if (r < 0.35) return boundaries[Math.floor(rand() * boundaries.length)]!;
  if (r < 0.6) return Math.floor(rand() * 100);
  return Math.floor(rand() * (MIB + 1));
}

async function put(node: string, path: string, value: Buffer): Promise<void> {
  const r = await fetch(`http://${node}/kv/${path}`, { method: 'PUT', body: value });
  assert.equal(r.status, 204, `PUT ${path}: ${await r.text()}`);
}

/**
 * snapshotPages reads `/_repl/snapshot` over a raw connection, undoing the chunked coding itself so
 * that each chunk (one page as the route wrote it) is seen whole: returns the chunk sizes and the
 * decoded entries (key latin1 → value).
 */
function snapshotPages(node: string): Promise<{ chunks: number[]; entries: Map<string, Buffer> }> {
  const [host, port] = node.split(':');
  return new Promise((resolve, reject) => {
    const chunks: number[] = [];
    const entries = new Map<string, Buffer>();
    const decoder = new SnapshotDecoder();
    let pending: Buffer = Buffer.alloc(0);
    let headDone = false;
    let left = 0; // bytes of the current chunk still to come
    const sock = connect(Number(port), host, () => {
      sock.write(`GET /_repl/snapshot?shard=0 HTTP/1.1\r\nHost: ${node}\r\nConnection: close\r\n\r\n`);
    });
    const body = (b: Buffer): void => {
      for (const e of decoder.push(b)) entries.set(e.key.toString('latin1'), Buffer.from(e.value));
    };
    sock.on('data', (d: Buffer) => {
      pending = pending.length === 0 ? d : Buffer.concat([pending, d]);
      if (!headDone) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        assert.match(pending.subarray(0, end).toString('latin1'), /^HTTP\/1\.1 200 /);
        pending = pending.subarray(end + 4);
        headDone = true;
      }
      for (;;) {
        if (left > 0) {
          const n = Math.min(left, pending.length);
          body(pending.subarray(0, n));
          pending = pending.subarray(n);
          left -= n;
          if (left > 0) return;
        }
        // A chunk's size line, or the CRLF after a chunk's data.
        const eol = pending.indexOf('\r\n');
        if (eol < 0) return;
        const line = pending.subarray(0, eol).toString('latin1');
        pending = pending.subarray(eol + 2);
        if (line === '') continue;
        const size = parseInt(line, 16);
        if (size === 0) {
          sock.destroy();
          resolve({ chunks, entries });
          return;
        }
        chunks.push(size);
        left = size;
      }
    });
    sock.on('error', reject);
    sock.on('close', () => {
      reject(new Error('the snapshot stream closed before its last chunk'));
    });
  });
}

function rssOf(p: ServerProcess): number {
  const status = readFileSync(`/proc/${p.child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** assertModel checks that `entries` (key latin1 → value) is exactly the model. */
function assertModel(entries: Map<string, Buffer>, what: string): void {
  assert.equal(entries.size, model.size, `seed ${seed}: ${what} has ${entries.size} keys, not ${model.size}`);
  for (const [path, value] of model) {
    const key = Buffer.from(path.replace(/%/g, ''), 'hex').toString('latin1');
    const got = entries.get(key);
    assert.ok(got?.equals(value), `seed ${seed}: ${what}: key ${path} differs`);
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'distkv-snap-bytes-'));
  const [pa, pb] = await freePorts(2);
  A = `127.0.0.1:${pa}`;
  B = `127.0.0.1:${pb}`;
  config = writeConfig(
    dir,
    [{ address: A, replicas: [B] }],
    '[storage]\nmemtable_bytes = 8388608\nwal_segment_bytes = 4194304\nwal_retention_bytes = 0\n[replication]\nring_bytes = 65536\npull_wait_ms = 200\n',
  );
  await start(A, 'a');
  const rand = seededRandom(seed);
  const large = Buffer.alloc(MIB);
  for (let i = 0; i < LARGE; i += 10) {
    await Promise.all(
      Array.from({ length: 10 }, (_, j) => {
        const path = pathOf(Buffer.from(`large-${String(i + j).padStart(3, '0')}`));
        const value = Buffer.from(large.fill((i + j) & 0xff));
        model.set(path, value);
        return put(A, path, value);
      }),
    );
  }
  for (let i = 0; i < MIXED; i++) {
    const path = pathOf(mixedKey(rand, i));
    const value = Buffer.alloc(mixedSize(rand), i & 0xff);
    model.set(path, value);
    await put(A, path, value);
  }
});

after(async () => {
  await Promise.all(running.map((p) => p.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('a snapshot stream bounded in bytes', () => {
  it('writes pages of at most 4 MiB and an entry, which decode to exactly the leader’s data', async (t) => {
    const { chunks, entries } = await snapshotPages(A);
    const largest = Math.max(...chunks);
    t.diagnostic(`${chunks.length} chunks, largest ${(largest / MIB).toFixed(2)} MiB (seed ${seed})`);
    assert.ok(largest <= PAGE_MAX, `seed ${seed}: a page of ${largest} bytes passed ${PAGE_MAX}`);
    assert.ok(
      chunks.length >= LARGE / 4,
      `seed ${seed}: ${chunks.length} pages for ${LARGE} values of 1 MiB and more`,
    );
    assertModel(entries, 'the snapshot');
  });

  it('a new replica catches up by snapshot (410) and holds exactly the leader’s data', async (t) => {
    const gone = await fetch(`http://${A}/_repl/pull?shard=0&after=0&wait_ms=0&replica=${B}`);
    assert.equal(gone.status, 410, 'the leader no longer has the log from seq 1');
    await gone.arrayBuffer();
    const leader = running[0]!;
    const rssBefore = rssOf(leader);
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, rssOf(leader));
    }, 20);
    try {
      await start(B, 'b');
      const deadline = Date.now() + 60000;
      for (;;) {
        const stats = (await (await fetch(`http://${B}/stats`)).json()) as {
          stores: { resyncs?: number; lastSeq?: number }[];
        };
        const leaderStats = (await (await fetch(`http://${A}/stats`)).json()) as {
          stores: { lastSeq?: number }[];
        };
        const s = stats.stores[0];
        if ((s?.resyncs ?? 0) >= 1 && s?.lastSeq === leaderStats.stores[0]?.lastSeq) break;
        assert.ok(Date.now() < deadline, `the replica did not catch up: ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      clearInterval(sampler);
    }
    t.diagnostic(`leader RSS +${((rssPeak - rssBefore) / MIB).toFixed(1)} MiB at most during the catch-up`);
    const got = new Map<string, Buffer>();
    for (const path of model.keys()) {
      const r = await fetch(`http://${B}/kv/${path}`);
      assert.equal(r.status, 200, `seed ${seed}: GET ${path} on the replica`);
      got.set(
        Buffer.from(path.replace(/%/g, ''), 'hex').toString('latin1'),
        Buffer.from(await r.arrayBuffer()),
      );
    }
    assertModel(got, 'the replica');
  });
});
