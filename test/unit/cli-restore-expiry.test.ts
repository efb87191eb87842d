/**
 * `distkv restore` keeps each key's expiry instant: a node counts a write's `ttl_ms` from when the
 * write arrives, so the restore must take the time left just before it sends each write. It used
 * to take it when it read the entry, and a key that is not UTF-8 (one PUT each, a group at a time, after
 * the batch) then expired later by the time every earlier write took: here the node's twin holds
 * its first PUTs for two seconds, and the keys after them would expire two seconds late. A key
 * that expires while it waits for its turn is not written, and counted with the expired ones.
 *
 * The twin records each write's arrival and `ttl_ms`: arrival + ttl_ms is the instant the node
 * would expire the key, compared with the backup's.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Crc, encodeBackupHeader, encodeEnd, encodeSectionHeader } from '../../src/cli/backup-format.js';
import {
  encodeSnapshotEntries,
  encodeSnapshotExactSeq,
  encodeSnapshotHeader,
} from '../../src/replication/snapshot-format.js';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

/** BOUND_MS is how much later than in the backup a restored key may expire (the time a write takes to arrive). */
const BOUND_MS = 500;
/** HOLD_MS is how long the twin holds its first PUTs (from the first one's arrival, and past the dying key's expiry). */
const HOLD_MS = 2000;
/** DYING_MS is when, after the file is written, the dying key expires: after the restore read it, before its PUT's turn. */
const DYING_MS = 3000;

/** Arrived is a write the twin got: the key's bytes, its ttl_ms (undefined: none) and when it arrived. */
interface Arrived {
  key: Buffer;
  ttlMs: number | undefined;
  at: number;
}

const arrived: Arrived[] = [];
let node: HandlerTwin;
let holdUntil = 0;
let dyingAt = 0;
/** batchHoldMs is how long the twin holds the answer to the next batch request (then 0). */
let batchHoldMs = 0;
const dir = tempDir(after);

/** bodyOf reads a request's body. */
async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** pathKey decodes the key of a `/kv/%XX...` path into its bytes. */
function pathKey(path: string): Buffer {
  const text = path.slice('/kv/'.length);
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '%') {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(text.charCodeAt(i));
  }
  return Buffer.from(bytes);
}

before(async () => {
  node = await startOneShardTwin((req, res) => {
    const url = new URL(req.url ?? '/', 'http://twin');
    if (req.method === 'GET' && url.pathname === '/kv') {
      // The scan that checks the cluster is empty.
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"items":[],"next":null}');
      return;
    }
    void bodyOf(req).then((body) => {
      const at = Date.now();
      if (req.method === 'POST' && url.pathname === '/kv/_batch') {
        const ops = JSON.parse(body.toString()) as
          { key: string; ttl_ms?: number }[] | { ops: { key: string; ttl_ms?: number }[] };
        const list = Array.isArray(ops) ? ops : ops.ops;
        for (const o of list) arrived.push({ key: Buffer.from(o.key), ttlMs: o.ttl_ms, at });
        setTimeout(() => {
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ results: list.map(() => ({ ok: true })), errors: 0 }));
        }, batchHoldMs);
        batchHoldMs = 0;
        return;
      }
      if (req.method === 'PUT' && url.pathname.startsWith('/kv/')) {
        const ttl = url.searchParams.get('ttl_ms');
        arrived.push({ key: pathKey(url.pathname), ttlMs: ttl === null ? undefined : Number(ttl), at });
        // The first PUT starts the hold: HOLD_MS, and past the dying key's expiry.
        if (holdUntil === 0) holdUntil = Math.max(at + HOLD_MS, dyingAt + 200);
        setTimeout(() => res.writeHead(204).end(), Math.max(0, holdUntil - at));
        return;
      }
      res.writeHead(404).end();
    });
  });
});

after(async () => {
  await node.stop();
});

/** Entry is a key of the backup with its expiry (Unix ms, 0 = never). */
interface Entry {
  key: Buffer;
  value: Buffer;
  expiresAtMs: number;
}

/** writeBackup writes a one-shard backup file of `entries`. */
function writeBackup(file: string, entries: Entry[]): void {
  const seq = entries.length;
  const parts = [
    encodeBackupHeader(),
    encodeSectionHeader(0, true),
    encodeSnapshotHeader(seq),
    encodeSnapshotEntries(
      entries.map((e, i) => ({ ...e, seq: i + 1 })),
      true,
    ),
    encodeSnapshotExactSeq(seq),
    encodeEnd({
      created: new Date().toISOString(),
      source: 'twin',
      topology: 'cfg',
      shards: [{ idx: 0, name: 'shard-0', seq, keys: entries.length, consistent: true }],
    }),
  ];
  const crc = new Crc();
  for (const p of parts) crc.add(p);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(crc.value, 0);
  writeFileSync(file, Buffer.concat([...parts, tail]));
}

describe('distkv restore and expiries', () => {
  it('sends each key the time it has left when the write goes, so it expires at its instant; a key that expires while waiting is not written', async () => {
    const base = Date.now();
    const entries: Entry[] = [];
    // Keys that are UTF-8 (one batch) and keys that are not (PUTs, a group at a time), some without a TTL.
    for (let i = 0; i < 100; i++)
      entries.push({
        key: Buffer.from(`t:${String(i).padStart(3, '0')}`),
        value: Buffer.from(`v${i}`),
        expiresAtMs: i % 10 === 0 ? 0 : base + 600_000 + i,
      });
    for (let i = 0; i < 200; i++)
      entries.push({
        key: Buffer.from([0xff, i >> 8, i & 0xff]),
        value: Buffer.from(`b${i}`),
        expiresAtMs: i % 10 === 0 ? 0 : base + 600_000 + i,
      });
    // Last of all: it expires while the first PUTs are held, before its own turn.
    const dying = Buffer.from([0xff, 0xff, 0xff]);
    entries.push({ key: dying, value: Buffer.from('d'), expiresAtMs: base + DYING_MS });
    const file = join(dir, 'ttl.dkvb');
    writeBackup(file, entries);
    dyingAt = base + DYING_MS;
    const r = await runCli(['restore', file, '--url', node.address]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /restored 300 keys .*\(1 more had expired since the backup\)/);
    assert.equal(arrived.length, 300);
    assert.equal(
      arrived.find((a) => a.key.equals(dying)),
      undefined,
      'the key that expired before its turn was not written',
    );
    checkInstants(entries);
  });

  it('hands the client no more than a small request of values per batch, so none waits behind another after its time was taken', async () => {
    // 1000 keys of 5 KiB were one batch of 5 MiB, which the client sent as two requests one after
    // the other: with the first held 2 s, the keys of the second expired 2 s late.
    arrived.length = 0;
    batchHoldMs = 2000;
    const base = Date.now();
    const entries: Entry[] = Array.from({ length: 1000 }, (_, i) => ({
      key: Buffer.from(`big:${String(i).padStart(4, '0')}`),
      value: Buffer.alloc(5 * 1024, i % 251),
      expiresAtMs: base + 600_000 + i,
    }));
    const file = join(dir, 'big.dkvb');
    writeBackup(file, entries);
    try {
      const r = await runCli(['restore', file, '--url', node.address]);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      batchHoldMs = 0;
    }
    assert.equal(arrived.length, 1000);
    checkInstants(entries);
  });
});

/** checkInstants checks that each write the twin got expires at its key's instant in `entries`, up to BOUND_MS later. */
function checkInstants(entries: Entry[]): void {
  const byKey = new Map(entries.map((e) => [e.key.toString('latin1'), e]));
  for (const a of arrived) {
    const e = byKey.get(a.key.toString('latin1'));
    assert.ok(e !== undefined, `an unknown key ${a.key.toString('hex')}`);
    if (e.expiresAtMs === 0) {
      assert.equal(a.ttlMs, undefined, `${a.key.toString('hex')} never expires`);
      continue;
    }
    assert.ok(a.ttlMs !== undefined, `${a.key.toString('hex')} keeps a TTL`);
    const late = a.at + a.ttlMs - e.expiresAtMs;
    assert.ok(
      late >= 0 && late <= BOUND_MS,
      `${a.key.toString('hex')} expires ${late} ms after its instant in the backup (bound 0..${BOUND_MS})`,
    );
  }
}
