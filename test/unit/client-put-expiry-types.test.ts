/**
 * A put's `ttlMs` and `expiresAtMs` are checked as batch() has them checked (src/http/batch-parse.ts:
 * an integer in 1..ten years, or 1..now + ten years), before anything is sent: put, putResult and
 * putVersioned rendered any value into the query, so `{ ttlMs: '100' }` from JavaScript expired the
 * key after 100 ms, and `{ ttlMs: [5] }` after 5, where the same set in a batch was refused (by the
 * node; the client's batch() now refuses it before sending, as it refuses ttlMs with expiresAtMs).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MAX_TTL_MS as CLIENT_MAX_TTL_MS } from '../../src/client/call-options.js';
import { DistkvClient } from '../../src/client/client.js';
import type { PutOptions } from '../../src/client/types.js';
import { DistkvError } from '../../src/errors.js';
import { MAX_TTL_MS } from '../../src/http/write-conditions.js';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startRecordingTwin } from '../helpers/twin-server.js';

let node: HandlerTwin;
let sent: string[];

before(async () => {
  ({ node, sent } = await startRecordingTwin({ etag: '"1.4"', 'x-distkv-seq': '4' }));
});

after(async () => {
  await node.stop();
});

/** The single-key calls that take a put's options. */
const CALLS = ['put', 'putResult', 'putVersioned'] as const;

/** putWith calls `call` of `client` with `options` as JavaScript may pass them (no types to stop it). */
function putWith(client: DistkvClient, call: (typeof CALLS)[number], options: unknown): Promise<unknown> {
  return client[call]('k', 'v', options as PutOptions);
}

/** refused asserts INVALID_ARGUMENT whose message matches `message`. */
function refused(message: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof DistkvError, String(err));
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, message);
    return true;
  };
}

describe('a put whose ttlMs or expiresAtMs is not an integer in its bound', () => {
  it('has the bound of the node (ten years)', () => {
    assert.equal(CLIENT_MAX_TTL_MS, MAX_TTL_MS);
  });

  it('refuses a ttlMs that is a string, not a number, naming the call, the option and its bound; nothing sent', async () => {
    sent.length = 0;
    const client = new DistkvClient({ urls: [node.address], retries: 0 });
    try {
      for (const call of CALLS)
        await assert.rejects(
          putWith(client, call, { ttlMs: '100' }),
          refused(
            new RegExp(
              `^${call} option ttlMs must be an integer in 1\\.\\.${MAX_TTL_MS} \\(milliseconds\\), got "100"$`,
            ),
          ),
        );
      assert.deepEqual(sent, []);
    } finally {
      await client.close();
    }
  });

  it('refuses every other ttlMs out of 1..ten years or not an integer; nothing sent', async () => {
    sent.length = 0;
    const client = new DistkvClient({ urls: [node.address], retries: 0 });
    const bad: [unknown, string][] = [
      [0, '0'],
      [-1, '-1'],
      [1.5, '1.5'],
      [MAX_TTL_MS + 1, String(MAX_TTL_MS + 1)],
      [Number.NaN, 'NaN'],
      [Number.POSITIVE_INFINITY, 'Infinity'],
      [[5], 'an array'],
      [null, 'null'],
      [true, 'boolean'],
      [10n, 'bigint'],
      ['', '""'],
    ];
    try {
      for (const [ttlMs, shown] of bad)
        await assert.rejects(
          putWith(client, 'put', { ttlMs }),
          refused(
            new RegExp(
              `^put option ttlMs must be an integer in 1\\.\\.${MAX_TTL_MS} .*, got ${shown.replace(/[.[\]]/g, '\\$&')}$`,
            ),
          ),
        );
      assert.deepEqual(sent, []);
    } finally {
      await client.close();
    }
  });

  it('refuses an expiresAtMs that is a string, or out of 1..now + ten years; nothing sent', async () => {
    sent.length = 0;
    const client = new DistkvClient({ urls: [node.address], retries: 0 });
    const bad: unknown[] = ['1', 0, 2.5, Date.now() + MAX_TTL_MS + 60000, Number.NaN, [1], {}];
    try {
      for (const call of CALLS)
        for (const expiresAtMs of bad)
          await assert.rejects(
            putWith(client, call, { expiresAtMs }),
            refused(
              new RegExp(
                `^${call} option expiresAtMs must be an integer in 1\\.\\.\\d+ \\(Unix time in milliseconds, at most ten years ahead\\), got `,
              ),
            ),
          );
      assert.deepEqual(sent, []);
    } finally {
      await client.close();
    }
  });

  it('sends an integer in bound as before, at either end of it', async () => {
    sent.length = 0;
    const client = new DistkvClient({ urls: [node.address], retries: 0 });
    try {
      assert.equal(await client.put('k', 'v', { ttlMs: 1 }), 4);
      assert.equal(await client.putVersioned('k', 'v', { ttlMs: MAX_TTL_MS }), '1.4');
      assert.deepEqual(await client.putResult('k', 'v', { expiresAtMs: 1 }), {
        seq: 4,
        version: '1.4',
        deleted: false,
      });
      assert.deepEqual(sent, [
        'PUT /kv/k?ttl_ms=1',
        `PUT /kv/k?ttl_ms=${MAX_TTL_MS}`,
        'PUT /kv/k?expires_at_ms=1',
      ]);
    } finally {
      await client.close();
    }
  });

  it('leaves distkv set --ttl as it was: the TTL sent as ttl_ms', async () => {
    sent.length = 0;
    const r = await runCli(['set', 'k', 'v', '--ttl', '100', '--url', node.address]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(sent, ['PUT /kv/k?ttl_ms=100']);
  });

  it('refuses ttlMs with expiresAtMs, as the node does; nothing sent', async () => {
    sent.length = 0;
    const client = new DistkvClient({ urls: [node.address], retries: 0 });
    try {
      for (const call of CALLS)
        await assert.rejects(
          putWith(client, call, { ttlMs: 100, expiresAtMs: Date.now() + 60000 }),
          refused(
            new RegExp(`^${call}: give ttlMs \\(milliseconds from now\\) or expiresAtMs .*, not both$`),
          ),
        );
      assert.deepEqual(sent, []);
    } finally {
      await client.close();
    }
  });

  it('refuses a batch set whose ttlMs or expiresAtMs a put would refuse, naming the operation; nothing sent', async () => {
    sent.length = 0;
    const client = new DistkvClient({ urls: [node.address], retries: 0 });
    const ok = { op: 'set', key: 'a', value: 'v', ttlMs: 5 } as const;
    const bad: [unknown, RegExp][] = [
      [{ ttlMs: '100' }, /^batch operation 1 option ttlMs must be an integer in 1\.\..*, got "100"$/],
      [{ ttlMs: 0 }, /^batch operation 1 option ttlMs must be an integer/],
      [{ expiresAtMs: 2.5 }, /^batch operation 1 option expiresAtMs must be an integer/],
      [{ ttlMs: 5, expiresAtMs: Date.now() + 60000 }, /^batch operation 1: give ttlMs .*, not both$/],
    ];
    try {
      for (const [expiry, message] of bad)
        await assert.rejects(
          client.batch([ok, { op: 'set', key: 'b', value: 'v', ...(expiry as object) }] as never),
          refused(message),
        );
      assert.deepEqual(sent, []);
    } finally {
      await client.close();
    }
  });
});
