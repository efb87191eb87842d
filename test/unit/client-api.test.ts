/**
 * The client library's calls against a spawned node: values are Buffers byte for byte (every byte
 * value, empty, large), getString decodes UTF-8, batch() returns one result per operation in
 * order, scan() iterates over several pages, delete() says whether the key existed, and every call
 * stops at its AbortSignal (before sending, while loading the topology, while waiting for a reply)
 * without breaking the client.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { freePorts } from '../helpers/ports.js';
import { ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

let server: ServerProcess | undefined;
let client: DistkvClient;
after(async () => {
  await client.close();
  await server?.stop();
});
const dir = tempDir(after);
let node = '';

const isAbort = (err: unknown): boolean => (err as Error).name === 'AbortError';

before(async () => {
  // Shard 1 has a replica that no process hosts, so a `w=1` write to it waits for its timeout.
  const [port, absent] = await freePorts(2);
  node = `127.0.0.1:${port}`;
  const config = writeConfig(dir, [{ address: node }, { address: node, replicas: [`127.0.0.1:${absent}`] }]);
  server = await ServerProcess.start(
    [
      '--config',
      config,
      '--node',
      node,
      '--data-dir',
      join(dir, 'data'),
      '--workers',
      '1',
      '--durability',
      'none',
    ],
    `http://${node}/healthz`,
    { DISTKV_LOG_LEVEL: 'warn' },
  );
  client = new DistkvClient({ urls: [node] });
});

describe('DistkvClient', () => {
  it('stores and returns values as exact bytes, with getString for text', async () => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const large = Buffer.alloc(300 * 1024, 0xa5);
    // Hash-tagged keys: the four share a slot.
    await client.put('{v}text', 'grüße');
    await client.put('{v}bytes', every);
    await client.put('{v}empty', Buffer.alloc(0));
    await client.put('{v}large', large);
    assert.deepEqual(await client.get('{v}bytes'), every);
    assert.deepEqual(await client.get('{v}empty'), Buffer.alloc(0));
    assert.deepEqual(await client.get('{v}large'), large);
    assert.equal(await client.getString('{v}text'), 'grüße');
    assert.equal(await client.get('absent'), undefined);
    assert.equal(await client.getString('absent'), undefined);
  });

  it('applies a batch and answers one result per operation, in order', async () => {
    const results = await client.batch([
      { op: 'set', key: 'b:1', value: Buffer.from([0, 0xff]) },
      { op: 'set', key: 'b:2', value: 'two' },
      { op: 'set', key: 'x'.repeat(2000), value: 'key too long' },
      { op: 'delete', key: 'b:2' },
      { op: 'set', key: 'b:3', value: '' },
    ]);
    assert.deepEqual(
      results.map((r) => (r.ok ? 'ok' : r.error.code)),
      ['ok', 'ok', 'INVALID_KEY', 'ok', 'ok'],
    );
    assert.deepEqual(await client.get('b:1'), Buffer.from([0, 0xff]));
    assert.equal(await client.get('b:2'), undefined);
    assert.deepEqual(await client.get('b:3'), Buffer.alloc(0));
    assert.deepEqual(await client.batch([]), []);
  });

  it('iterates over a scan across pages and shards, in key order, with Buffer values', async () => {
    const keys = Array.from({ length: 23 }, (_, i) => `it:${String(i).padStart(2, '0')}`);
    await client.batch(keys.map((key, i) => ({ op: 'set' as const, key, value: Buffer.from([i, 0xff]) })));
    const seen: [string, Buffer][] = [];
    for await (const item of client.scan('it:', { pageSize: 4 })) seen.push([item.key, item.value]);
    assert.deepEqual(
      seen,
      keys.map((k, i) => [k, Buffer.from([i, 0xff])]),
    );
    const rest: string[] = [];
    for await (const item of client.scan('it:', { pageSize: 5, after: 'it:19' })) rest.push(item.key);
    assert.deepEqual(rest, ['it:20', 'it:21', 'it:22']);
    const page = await client.scanPage('it:', { limit: 2 });
    assert.deepEqual(
      page.items.map((i) => i.key),
      ['it:00', 'it:01'],
    );
    assert.equal(page.next, 'it:01');
  });

  it('refuses a key with a lone surrogate as INVALID_KEY, as the server does, not with a URIError', async () => {
    for (const call of [
      () => client.put('a\ud800', 'v'),
      () => client.get('\udc00b'),
      () => client.delete('a\ud800'),
    ])
      await assert.rejects(call, (err: unknown) => {
        assert.ok(err instanceof DistkvError, String(err));
        assert.equal(err.code, 'INVALID_KEY');
        assert.match(err.message, /lone UTF-16 surrogate/);
        return true;
      });
  });

  it('refuses a value, prefix, cursor or batch with a lone surrogate instead of writing or reading U+FFFD', async () => {
    for (const [call, code] of [
      [() => client.put('lone:v', 'x\ud800'), 'INVALID_ARGUMENT'],
      [() => client.scanPage('lone:\udc00'), 'INVALID_ARGUMENT'],
      [() => client.scanPage('lone:', { after: 'lone:\ud800' }), 'INVALID_ARGUMENT'],
      [() => client.batch([{ op: 'set', key: 'lone:b', value: '\ud800' }]), 'INVALID_ARGUMENT'],
      [() => client.batch([{ op: 'delete', key: 'lone:\ud800' }]), 'INVALID_KEY'],
    ] as const)
      await assert.rejects(call, (err: unknown) => {
        assert.ok(err instanceof DistkvError, String(err));
        assert.equal(err.code, code);
        assert.match(err.message, /lone UTF-16 surrogate/);
        return true;
      });
    assert.equal(await client.get('lone:v'), undefined, 'the value was written as U+FFFD');
    assert.equal(await client.get('lone:b'), undefined, 'the batch was written');
    assert.equal((await client.get('lone:pair'))?.length, undefined);
    await client.put('lone:pair', '\ud83d\ude00');
    assert.equal(await client.getString('lone:pair'), '\u{1F600}', 'a surrogate pair is a character');
  });

  it('writes, reads and deletes a key named like the batch route (`_batch`), as text and as bytes', async () => {
    // `/kv/_batch` is the batch endpoint: the key `_batch` (a valid key, writable over RESP or in
    // a batch) must reach `/kv/{key}` as `/kv/%5Fbatch`, not be answered 405 METHOD_NOT_ALLOWED.
    const bytes = Buffer.from('_batch');
    await client.put('_batch', 'as text');
    assert.equal(await client.getString('_batch'), 'as text');
    const version = await client.putVersioned(bytes, 'as bytes');
    assert.deepEqual(await client.getVersioned('_batch'), { value: Buffer.from('as bytes'), version });
    assert.equal(await client.delete('_batch', { ifMatch: version }), true);
    assert.equal(await client.get(bytes), undefined);
    // Other keys that start with `_` are keys too.
    await client.put('_batch/1', 'x');
    assert.equal(await client.getString('_batch/1'), 'x');
  });

  it('says whether a deleted key existed', async () => {
    await client.put('del:1', 'x');
    assert.equal(await client.delete('del:1'), true);
    assert.equal(await client.delete('del:1'), false);
    assert.equal(await client.delete('del:never'), false);
    await client.put('del:1', 'back');
    assert.equal(await client.delete('del:1'), true);
  });

  it('rejects with AbortError when the signal is already aborted, and sends nothing', async () => {
    const before = client.stats.requests;
    await assert.rejects(client.put('abort:0', 'x', { signal: AbortSignal.abort() }), isAbort);
    assert.equal(client.stats.requests, before);
    assert.equal(await client.get('abort:0'), undefined);
  });

  it('aborts a call waiting for its reply and keeps working afterwards', async () => {
    const map = await client.topology();
    let key = 'wait:0';
    for (let i = 0; map.shardOf(key) !== 1; i++) key = `wait:${i}`;
    const controller = new AbortController();
    const t0 = performance.now();
    const pending = client.put(key, 'v', { w: 1, timeoutMs: 60000, signal: controller.signal });
    setTimeout(() => {
      controller.abort();
    }, 100);
    await assert.rejects(pending, isAbort);
    assert.ok(performance.now() - t0 < 30000, 'the abort did not wait for the server');
    await client.put('after-abort', 'fine');
    assert.equal(await client.getString('after-abort'), 'fine');
  });

  it('waits for a w write as long as its timeoutMs, past the client timeout, and does not write it again', async () => {
    const quick = new DistkvClient({ urls: [node], timeoutMs: 500 });
    try {
      const map = await quick.topology();
      let key = 'slow-w:0';
      for (let i = 0; map.shardOf(key) !== 1; i++) key = `slow-w:${i}`;
      const t0 = performance.now();
      const err = (await quick.put(key, 'v', { w: 1, timeoutMs: 1500 }).then(
        () => undefined,
        (e: unknown) => e,
      )) as DistkvError | undefined;
      assert.equal(err?.code, 'REPLICATION_TIMEOUT', String(err));
      assert.ok(performance.now() - t0 >= 1400, 'answered before the w timeout');
      assert.equal(quick.stats.retries, 0, 'the write was sent again');
    } finally {
      await quick.close();
    }
  });

  it('aborts while the topology is loading from a node that never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const address = silent.address();
    assert.ok(address !== null && typeof address === 'object');
    const stuck = new DistkvClient({ urls: [`127.0.0.1:${address.port}`] });
    try {
      const controller = new AbortController();
      setTimeout(() => {
        controller.abort();
      }, 100);
      await assert.rejects(stuck.get('k', { signal: controller.signal }), isAbort);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
      await stuck.close().catch(() => undefined);
    }
  });
});
