/**
 * `distkv restore` keeps each key's expiry instant: each write carries the key's instant in the
 * backup (`expires_at_ms`), so the key expires exactly then, however long the write took. It used
 * to send the time left (`ttl_ms`), which a node counts from when the write arrives: first taken
 * when it read the entry, so a key that is not UTF-8 (one PUT each, a group at a time, after the
 * batch) expired later by the time every earlier write took (here the node's twin holds its first
 * PUTs for two seconds), then taken just before each write was sent, so each key still expired
 * late by the time its write took to arrive. A key that expires while it waits for its turn is not
 * written, and counted with the expired ones.
 *
 * The twin records each write's `expires_at_ms` (and any `ttl_ms`, which a restore must not send),
 * compared with the backup's instant: equal, to the millisecond.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type BackupEntryIn as Entry,
  writeOneShardBackup as writeBackup,
} from '../helpers/one-shard-backup.js';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

/** HOLD_MS is how long the twin holds its first PUTs (from the first one's arrival, and past the dying key's expiry). */
const HOLD_MS = 2000;
/** DYING_MS is when, after the file is written, the dying key expires: after the restore read it, before its PUT's turn. */
const DYING_MS = 3000;

/** Arrived is a write the twin got: the key's bytes, its expires_at_ms and its ttl_ms (undefined: none). */
interface Arrived {
  key: Buffer;
  expiresAtMs: number | undefined;
  ttlMs: number | undefined;
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
        type WireOp = { key: string; ttl_ms?: number; expires_at_ms?: number };
        const ops = JSON.parse(body.toString()) as WireOp[] | { ops: WireOp[] };
        const list = Array.isArray(ops) ? ops : ops.ops;
        for (const o of list)
          arrived.push({ key: Buffer.from(o.key), expiresAtMs: o.expires_at_ms, ttlMs: o.ttl_ms });
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
        const expiresAt = url.searchParams.get('expires_at_ms');
        arrived.push({
          key: pathKey(url.pathname),
          expiresAtMs: expiresAt === null ? undefined : Number(expiresAt),
          ttlMs: ttl === null ? undefined : Number(ttl),
        });
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

describe('distkv restore and expiries', () => {
  it('sends each key its expiry instant, so it expires exactly then however long the writes took; a key that expires while waiting is not written', async () => {
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

  it('keeps the instant of keys sent in batches held 2 s behind one another', async () => {
    // 1000 keys of 5 KiB: the batches go one after another, each held 2 s. With a time left sent,
    // the keys of each later batch would expire later; with the instant, none does.
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

/** checkInstants checks that each write the twin got carries its key's instant in `entries` as expires_at_ms, and no ttl_ms. */
function checkInstants(entries: Entry[]): void {
  const byKey = new Map(entries.map((e) => [e.key.toString('latin1'), e]));
  for (const a of arrived) {
    const e = byKey.get(a.key.toString('latin1'));
    assert.ok(e !== undefined, `an unknown key ${a.key.toString('hex')}`);
    assert.equal(a.ttlMs, undefined, `${a.key.toString('hex')} is sent no ttl_ms`);
    assert.equal(
      a.expiresAtMs,
      e.expiresAtMs === 0 ? undefined : e.expiresAtMs,
      `${a.key.toString('hex')} expires at its instant in the backup`,
    );
  }
}
