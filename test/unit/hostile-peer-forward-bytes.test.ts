/**
 * What a node gathers of an answer it forwarded a request for (src/http/forwarder.ts: a `--proxy`
 * relay, a scan part, a batch part) is bounded in bytes by what that answer can hold
 * (src/http/forward-caps.ts), not only by the owner's silence: an owner (a fake node on loopback)
 * that streams an endless body fast enough to beat every silence bound is cut at the cap, naming
 * it, and one whose Content-Length claims more is refused unread. Before, the body was gathered
 * until the 10-minute ceiling, into memory. The caps are not too tight: a relayed value of exactly
 * `max_value_bytes` and a scan page built as an owner builds it (mergeScan) from the worst keys
 * (control bytes, 6 JSON bytes each, and not UTF-8) and the largest values pass.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, describe, it } from 'node:test';
import { Forwarder } from '../../src/http/forwarder.js';
import { mergeScan } from '../../src/http/scatter-merge.js';
import { FakePeers } from '../helpers/fake-peer.js';

const MAX_VALUE = 4096;
const peers = new FakePeers();
const forwarder = new Forwarder('http', 'cfg', undefined, { maxValueBytes: MAX_VALUE });
after(async () => {
  await forwarder.close();
  await peers.close();
});

/** endless answers 200 and sends 64 KiB chunks until the client leaves (or 64 MiB: the test's own bound). */
function endless(res: ServerResponse, contentType: string): void {
  res.writeHead(200, { 'content-type': contentType });
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let sent = 0;
  const more = (): void => {
    while (!res.destroyed && sent < 64 << 20) {
      sent += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', more);
        return;
      }
    }
    if (!res.destroyed) res.end();
  };
  res.write(contentType === 'application/json' ? '{"items":[{"key":"' : '');
  more();
}

/** within fails unless `p` settles within `ms` (the owner keeps sending all along). */
async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    t = setTimeout(() => {
      reject(new Error(`still reading the answer after ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(t);
  }
}

describe('a forwarded answer with an endless body', () => {
  it('is cut past a value and its slack when relayed (--proxy), naming the cap', async () => {
    const owner = await peers.start((_req, res) => {
      endless(res, 'application/octet-stream');
    });
    await assert.rejects(
      within(5000, forwarder.relay(owner, 'GET', '/kv/k', undefined)),
      /body passed the 69632 bytes such an answer can hold \(server\.max_value_bytes 4096 plus 65536 bytes\); cut there/,
    );
  });

  it('is cut past what the page asked for can hold when it is a scan part', async () => {
    const owner = await peers.start((_req, res) => {
      endless(res, 'application/json');
    });
    await assert.rejects(
      within(5000, forwarder.scan(owner, [0], Buffer.alloc(0), undefined, { limit: 10, maxBytes: 1000 })),
      /body passed the \d+ bytes such an answer can hold \(a page of limit 10 and max_bytes 1000/,
    );
  });

  it('is cut past its results when it is a batch part', async () => {
    const owner = await peers.start((req, res) => {
      req.resume();
      endless(res, 'application/json');
    });
    await assert.rejects(
      within(5000, forwarder.batch(owner, [{ op: 'put', key: 'k', value: 'v' }])),
      /body passed the \d+ bytes such an answer can hold \(1 results of at most/,
    );
  });

  it('is refused unread when its Content-Length claims more than the cap', async () => {
    const owner = await peers.start((_req, res) => {
      res.writeHead(200, { 'content-length': String(5 * 2 ** 30) });
      res.write(Buffer.alloc(1024));
    });
    await assert.rejects(
      within(5000, forwarder.relay(owner, 'GET', '/kv/k', undefined)),
      /Content-Length 5368709120 is more than the 69632 bytes such an answer can hold/,
    );
  });
});

describe('a forwarded answer as large as it can legitimately be', () => {
  it('passes when relayed: a value of exactly max_value_bytes', async () => {
    const value = Buffer.alloc(MAX_VALUE, 0x7a);
    const owner = await peers.start((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(value);
    });
    const r = await forwarder.relay(owner, 'GET', '/kv/k', undefined);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, value);
  });

  for (const [what, valueBytes, least] of [
    ['the worst keys (6 JSON bytes per byte, and base64)', 0, 7],
    ['the worst keys and the largest values', MAX_VALUE, 2.5],
  ] as const)
    it(`passes as a scan part: ${what}, as an owner pages them`, async () => {
      const limit = 40;
      const maxBytes = 20000;
      // Keys of 1024 bytes, control bytes but one that is not UTF-8 (so the page gives each as
      // JSON text at 6 bytes per byte, and as base64); the page ends past maxBytes, as mergeScan ends it.
      const entries = Array.from({ length: limit }, (_, i) => {
        const key = Buffer.alloc(1024, 0x01);
        key.writeUInt16BE(i, 1);
        key[0] = 0xff;
        return { key, value: Buffer.alloc(valueBytes, 0x7a), version: '4294967295.9007199254740991' };
      });
      const page = mergeScan([{ entries, more: true }], limit, true, maxBytes);
      const body = JSON.stringify(page);
      assert.ok(body.length > least * maxBytes, `the page is ${body.length} bytes: not a worst case`);
      const owner = await peers.start((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      });
      const part = await forwarder.scan(owner, [0], Buffer.alloc(0), undefined, { limit, maxBytes });
      assert.equal(part.entries.length, page.items.length);
    });
});
