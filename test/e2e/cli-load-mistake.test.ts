/**
 * A bulk load stopped by a mistake in its input (a value one byte over `max_value_bytes`, a line
 * that is not JSON) leaves the empty stores it found as they were: exit 2 naming the line and
 * saying nothing was loaded, no LOADING marker left, and `distkv serve` starts on the directory.
 * It used to leave every store marked LOADING, so serve refused them "until the same load is run
 * again", and the same input stopped at the same line again. A value at the limit loads byte-exact.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { runCli, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const LIMIT = 1048576;

/** valueOf is a value of `n` bytes that is not UTF-8 (every byte value, from `seed`). */
function valueOf(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed) & 0xff;
  return b;
}

let server: ServerProcess | undefined;
after(async () => {
  await server?.stop();
});

describe('distkv load with a mistake in its input', () => {
  it('exits 2 naming the line, leaves no LOADING marker, and serve starts; at the limit it loads', async () => {
    const dir = tempDir(after);
    const [port, replicaPort] = await freePorts(2);
    const address = `127.0.0.1:${String(port)}`;
    const replica = `127.0.0.1:${String(replicaPort)}`;
    // Two shards, each with a replica in this process: four stores for the load to mark.
    const config = writeConfig(
      dir,
      [
        { address, replicas: [replica] },
        { address, replicas: [replica] },
      ],
      '[server]\nresp_port_offset = 0',
    );
    const data = join(dir, 'data');
    const atLimit = valueOf(LIMIT, 7);
    const line = (key: string, value: Buffer): string =>
      JSON.stringify({ key, value_base64: value.toString('base64') });
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, `${line('a', atLimit)}\n${line('b', valueOf(LIMIT + 1, 9))}\n${line('c', atLimit)}\n`);
    const markers = (): string[] =>
      [address, replica].flatMap((n) =>
        ['shard-0', 'shard-1']
          .map((s) => join(data, n.replace(':', '_'), s, 'LOADING'))
          .filter((m) => existsSync(m)),
      );

    const r = await runCli(['load', bad, '--config', config, '--data-dir', data]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /line 2: value is 1048577 bytes; limit is 1048576/);
    assert.match(r.stderr, /nothing was loaded: the stores are as they were/);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    assert.deepEqual(markers(), [], 'no store is left marked LOADING');

    const notJson = join(dir, 'not-json.jsonl');
    writeFileSync(notJson, `${line('a', atLimit)}\n{"key": "b", "value": \n`);
    const r2 = await runCli(['load', notJson, '--config', config, '--data-dir', data]);
    assert.equal(r2.code, 2, r2.stderr);
    assert.match(r2.stderr, /line 2: not JSON/);
    assert.deepEqual(markers(), []);

    // The fixed input loads (the stores are still empty), byte-exact at the limit.
    const good = join(dir, 'good.jsonl');
    writeFileSync(good, `${line('a', atLimit)}\n${line('c', valueOf(LIMIT, 11))}\n`);
    const r3 = await runCli(['load', good, '--config', config, '--data-dir', data]);
    assert.equal(r3.code, 0, r3.stderr);
    assert.match(r3.stdout, /loaded 2 lines/);

    server = await ServerProcess.start(
      ['--config', config, '--data-dir', data, '--workers', '1'],
      `http://${address}/healthz`,
      { DISTKV_LOG_LEVEL: 'warn' },
      30000,
    );
    const a = await fetch(`http://${address}/kv/a`, { redirect: 'follow' });
    assert.equal(a.status, 200);
    assert.ok(Buffer.from(await a.arrayBuffer()).equals(atLimit), "a is the line's bytes exactly");
    const c = await fetch(`http://${address}/kv/c`);
    assert.ok(Buffer.from(await c.arrayBuffer()).equals(valueOf(LIMIT, 11)));
    const b = await fetch(`http://${address}/kv/b`);
    assert.equal(b.status, 404, 'the refused line loaded nothing');
    await b.arrayBuffer();
  });

  it('serve starts on the directory a refused load left (nothing loaded)', async () => {
    const dir = tempDir(after);
    const [port] = await freePorts(1);
    const address = `127.0.0.1:${String(port)}`;
    const config = writeConfig(dir, [{ address }], '[server]\nresp_port_offset = 0');
    const data = join(dir, 'data');
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"key":"a","value":"1"}\n{"key":"b","value":"2","ttl_ms":5}\n');
    const r = await runCli(['load', bad, '--config', config, '--data-dir', data]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /line 2: unknown field "ttl_ms"/);
    const s = await ServerProcess.start(
      ['--config', config, '--data-dir', data, '--workers', '1'],
      `http://${address}/healthz`,
      { DISTKV_LOG_LEVEL: 'warn' },
      30000,
    );
    try {
      const a = await fetch(`http://${address}/kv/a`);
      assert.equal(a.status, 404);
      await a.arrayBuffer();
    } finally {
      await s.stop();
    }
  });
});
