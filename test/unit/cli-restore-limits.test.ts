/**
 * `distkv restore` into a cluster whose nodes take smaller values than the backup holds. It wrote
 * every key up to the first one refused and stopped saying "after writing 1 keys"; now the count
 * reads "1 key", and when a node tells its limits in /cluster (`limits`) the restore refuses the
 * file before writing anything, naming how many values are over the limit and the largest.
 * Twins: SOURCE serves a one-shard snapshot (a small value, then one of BIG bytes) for the backup;
 * the targets answer /cluster (without or with `limits`), an empty scan, and batches in which the
 * big value is refused as a node refuses it.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';
import { snapshotStream } from '../helpers/snapshot-stream.js';

const BIG = 2000;
const LIMIT = 1000;

const twins: HandlerTwin[] = [];
const dir = tempDir(after);
const file = join(dir, 'two-keys.dkvb');

after(async () => {
  await Promise.all(twins.map((t) => t.stop()));
});

/** target starts a twin of a one-shard cluster, its /cluster with `limits` when given; `calls` records each request. */
async function target(
  calls: string[],
  limits?: { max_key_bytes: number; max_value_bytes: number },
): Promise<string> {
  const t = await startHandlerTwin((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      calls.push(`${req.method} ${req.url?.split('?')[0]}`);
      const json = (doc: unknown): void => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
      };
      if (req.url === '/cluster') {
        const view = JSON.parse(oneShardView(t.address)) as Record<string, unknown>;
        json(limits === undefined ? view : { ...view, limits });
      } else if (req.url?.startsWith('/kv?') === true) json({ items: [], next: null });
      else if (req.url === '/kv/_batch') {
        const ops = JSON.parse(Buffer.concat(chunks).toString()) as { ops?: unknown[] } | unknown[];
        const list = Array.isArray(ops) ? ops : (ops.ops ?? []);
        json({
          results: (list as { value_base64: string }[]).map((op) =>
            Buffer.from(op.value_base64, 'base64').length > (limits?.max_value_bytes ?? LIMIT)
              ? {
                  ok: false,
                  error: { code: 'VALUE_TOO_LARGE', message: `value is ${BIG} bytes; limit is ${LIMIT}` },
                }
              : { ok: true },
          ),
        });
      } else res.writeHead(404).end();
    });
  });
  twins.push(t);
  return t.address;
}

before(async () => {
  const source = await startHandlerTwin((req, res) => {
    if (req.url === '/cluster') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(source.address, 1, 2));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(
      snapshotStream(2, [
        { key: Buffer.from('a-small'), value: Buffer.from('v'), seq: 1 },
        { key: Buffer.from('b-big'), value: Buffer.alloc(BIG, 0x61), seq: 2 },
      ]),
    );
  });
  twins.push(source);
  const r = await runCli(['backup', file, '--url', source.address]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

describe('distkv restore into a cluster with a smaller max_value_bytes', () => {
  it('says "after writing 1 key" when the node refuses the second', async () => {
    const calls: string[] = [];
    const node = await target(calls);
    const r = await runCli(['restore', file, '--url', node]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /VALUE_TOO_LARGE: restoring key "b-big": .*the restore stopped after writing 1 key: /,
    );
    assert.doesNotMatch(r.stderr, /1 keys/);
  });

  it('refuses before writing anything when /cluster tells the limit', async () => {
    const calls: string[] = [];
    const node = await target(calls, { max_key_bytes: 1024, max_value_bytes: LIMIT });
    const r = await runCli(['restore', file, '--url', node]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /VALUE_TOO_LARGE: the backup holds 1 value over the cluster's limit of 1000 bytes \(server\.max_value_bytes\), the largest 2000 bytes \(key "b-big"\); nothing was written/,
    );
    assert.ok(!calls.includes('POST /kv/_batch'), `no batch sent: ${calls.join(', ')}`);
  });

  it('refuses a key over the limit /cluster tells', async () => {
    const calls: string[] = [];
    const node = await target(calls, { max_key_bytes: 5, max_value_bytes: 1 << 20 });
    const r = await runCli(['restore', file, '--url', node]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /INVALID_KEY: the backup holds 1 key over the cluster's limit of 5 bytes \(server\.max_key_bytes\), the longest 7 bytes \(key "a-small"\); nothing was written/,
    );
    assert.ok(!calls.includes('POST /kv/_batch'), `no batch sent: ${calls.join(', ')}`);
  });

  it('restores a backup that fits the limits /cluster tells', async () => {
    const calls: string[] = [];
    const node = await target(calls, { max_key_bytes: 1024, max_value_bytes: BIG });
    const r = await runCli(['restore', file, '--url', node, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((JSON.parse(r.stdout) as { keys: number }).keys, 2);
  });
});
