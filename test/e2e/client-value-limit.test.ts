/**
 * Values at `max_value_bytes` (the default, 1 MiB) exactly and one byte over, through every
 * surface a user has: CLI set (argument, stdin, file), the client library's put/get/batch, scan
 * pages of large values (library and CLI), backup and restore, and watch events over SSE, the
 * WebSocket and the client library's stream. Each either keeps the bytes exactly or refuses with
 * VALUE_TOO_LARGE naming the limit, and a refused value leaves nothing behind (the key's earlier
 * value stands). Values are not UTF-8 (every byte value) unless a test says otherwise.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { freePorts } from '../helpers/ports.js';
import { type OwnServer, runCli, startOwnServer } from '../helpers/server-process.js';

const LIMIT = 1048576;

/** valueOf is `n` bytes holding every byte value (not UTF-8), differing by `seed`. */
function valueOf(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed * 7 + (i >> 9)) & 0xff;
  return b;
}

/** assertSame compares bytes without printing a megabyte on failure. */
function assertSame(got: Buffer | undefined, want: Buffer, what: string): void {
  assert.ok(got !== undefined, `${what}: missing`);
  assert.equal(got.length, want.length, `${what}: length`);
  assert.ok(got.equals(want), `${what}: bytes differ`);
}

/** assertTooLarge checks a refusal of a value one byte over the limit. */
function assertTooLarge(err: unknown): true {
  assert.ok(err instanceof DistkvError, String(err));
  assert.equal(err.code, 'VALUE_TOO_LARGE');
  assert.match(err.message, /value is 1048577 bytes; limit is 1048576/);
  return true;
}

let own: OwnServer;
let node = '';
let client: DistkvClient;

before(async () => {
  const [leader, replica] = await freePorts(2);
  node = `127.0.0.1:${String(leader)}`;
  const rep = `127.0.0.1:${String(replica)}`;
  own = await startOwnServer(
    [
      { address: node, replicas: [rep] },
      { address: node, replicas: [rep] },
    ],
    '[server]\nresp_port_offset = 0',
    ['--workers', '1', '--durability', 'none'],
    { DISTKV_LOG_LEVEL: 'warn' },
  );
  client = new DistkvClient({ urls: [node] });
});

after(async () => {
  await client.close();
  await own.stop();
});

describe('a value at the limit and one byte over', () => {
  it('CLI set --file and set - (stdin): the limit kept exactly, one over refused with exit 2', async () => {
    const atLimit = valueOf(LIMIT, 1);
    const file = join(own.dir, 'limit.bin');
    writeFileSync(file, atLimit);
    const over = join(own.dir, 'over.bin');
    writeFileSync(over, valueOf(LIMIT + 1, 2));
    const url = ['--url', node];

    assert.equal((await runCli(['set', 'cli:file', '--file', file, ...url])).code, 0);
    assertSame(await client.get('cli:file'), atLimit, 'set --file');
    const r = await runCli(['set', 'cli:file', '--file', over, ...url]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /VALUE_TOO_LARGE: value is 1048577 bytes; limit is 1048576/);
    assertSame(await client.get('cli:file'), atLimit, 'the refused set left the value');

    assert.equal((await runCli(['set', 'cli:stdin', '-', ...url], {}, atLimit)).code, 0);
    assertSame(await client.get('cli:stdin'), atLimit, 'set -');
    const s = await runCli(['set', 'cli:stdin2', '-', ...url], {}, valueOf(LIMIT + 1, 3));
    assert.equal(s.code, 2, s.stderr);
    assert.match(s.stderr, /VALUE_TOO_LARGE/);
    assert.equal(await client.get('cli:stdin2'), undefined);

    const got = await runCli(['get', 'cli:file', ...url, '--json']);
    assert.equal(got.code, 0, got.stderr);
    const doc = JSON.parse(got.stdout) as { value_base64: string };
    assertSame(Buffer.from(doc.value_base64, 'base64'), atLimit, 'get --json value_base64');
  });

  it('CLI set with the value as an argument: as long as one argument can be, kept exactly', async () => {
    // Linux caps one argument at 128 KiB (MAX_ARG_STRLEN): a 1 MiB value cannot be an argument at
    // all (the shell refuses to start the command), so the largest one that can is what is checked.
    const text = 'é'.repeat(60000) + 'z'.repeat(10000);
    const r = await runCli(['set', 'cli:arg', text, '--url', node]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await client.getString('cli:arg'), text);
  });

  it('client put and get: bytes and text at the limit kept exactly, one over refused', async () => {
    const atLimit = valueOf(LIMIT, 4);
    await client.put('lib:bytes', atLimit);
    assertSame(await client.get('lib:bytes'), atLimit, 'put bytes');
    await assert.rejects(client.put('lib:bytes', valueOf(LIMIT + 1, 5)), assertTooLarge);
    assertSame(await client.get('lib:bytes'), atLimit, 'the refused put left the value');

    // Text is counted in UTF-8 bytes, not characters: 'é' is two.
    const text = 'é'.repeat(LIMIT / 2);
    await client.put('lib:text', text);
    assert.equal(await client.getString('lib:text'), text);
    await assert.rejects(client.put('lib:text2', `${text}a`), assertTooLarge);
    assert.equal(await client.get('lib:text2'), undefined);
  });

  it('client batch: values at the limit kept, one over refused in its place, the rest applied', async () => {
    const values = [0, 1, 2, 3, 4, 5].map((i) => valueOf(LIMIT, 10 + i));
    const results = await client.batch([
      ...values.map((value, i) => ({ op: 'set' as const, key: `batch:${String(i)}`, value })),
      { op: 'set', key: 'batch:over', value: valueOf(LIMIT + 1, 20) },
      { op: 'set', key: 'batch:small', value: 'ok' },
    ]);
    assert.equal(results.length, 8);
    results.slice(0, 6).forEach((r, i) => {
      assert.deepEqual(r, { ok: true }, `op ${String(i)}`);
    });
    const refused = results[6]!;
    assert.ok(!refused.ok);
    assertTooLarge(refused.error);
    assert.deepEqual(results[7], { ok: true });
    for (const [i, v] of values.entries())
      assertSame(await client.get(`batch:${String(i)}`), v, `batch ${String(i)}`);
    assert.equal(await client.get('batch:over'), undefined);
  });

  it('scan: pages of values at the limit come whole and exact, library and CLI --json --all', async () => {
    // 18, not 24: an answer holds at most 16 MiB and one value (17 of these), so 18 still takes
    // more than one page, and each value written, scanned twice and printed as base64 costs CPU.
    const n = 18;
    const values = Array.from({ length: n }, (_, i) => valueOf(LIMIT, 100 + i));
    for (const [i, v] of values.entries()) await client.put(`scan:${String(i).padStart(2, '0')}`, v);
    let seen = 0;
    for await (const item of client.scan('scan:', { pageSize: 1000 })) {
      assertSame(item.value, values[Number(item.key.slice(5))]!, item.key);
      seen++;
    }
    assert.equal(seen, n);
    // A page is bounded in bytes (16 MiB and one value): 18 MiB of values takes more than one.
    const first = await client.scanPage('scan:', { limit: 1000 });
    assert.ok(
      first.items.length < n && first.next !== null,
      `first page: ${String(first.items.length)} items`,
    );

    const r = await runCli(['scan', 'scan:', '--json', '--all', '--url', node]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; value_base64: string });
    assert.equal(lines.length, n);
    for (const l of lines)
      assertSame(Buffer.from(l.value_base64, 'base64'), values[Number(l.key.slice(5))]!, `cli ${l.key}`);
  });

  it('backup and restore keep values at the limit exactly', async () => {
    const values = [valueOf(LIMIT, 200), valueOf(LIMIT, 201), Buffer.alloc(0)];
    for (const [i, v] of values.entries()) await client.put(`bk:${String(i)}`, v);
    const file = join(own.dir, 'all.dkv');
    const b = await runCli(['backup', file, '--url', node]);
    assert.equal(b.code, 0, b.stderr);
    for (const i of values.keys()) await client.delete(`bk:${String(i)}`);
    const r = await runCli(['restore', file, '--force', '--url', node]);
    assert.equal(r.code, 0, r.stderr);
    for (const [i, v] of values.entries())
      assertSame(await client.get(`bk:${String(i)}`), v, `restored bk:${String(i)}`);
  });

  it('watch: a change carrying a value at the limit arrives exact over SSE, WebSocket and the client', async () => {
    const value = valueOf(LIMIT, 300);
    const text = 'é'.repeat(LIMIT / 2);
    const stop = new AbortController();
    const timer = setTimeout(() => {
      stop.abort();
    }, 60000);
    try {
      // Each stream says where it starts (hello; the client, its first progress): a watch starts
      // from now, so the writes wait for all three. A fixed 1.5 s stood for that, and a node slow
      // to start a stream left it waiting for changes already made until the 60 s abort.
      const started: Promise<void>[] = [];
      const onStart = (): (() => void) => {
        let go = (): void => undefined;
        started.push(new Promise<void>((resolve) => (go = resolve)));
        return () => {
          go();
        };
      };
      const sse = sseValues(`http://${node}/watch?prefix=w%3A`, stop.signal, 2, onStart());
      const ws = wsValues(node, '/watch?prefix=w%3A', 2, stop.signal, onStart());
      const libStarted = onStart();
      const lib = (async () => {
        const got: Buffer[] = [];
        for await (const e of client.watch('w:', { signal: stop.signal, progress: true })) {
          if (e.type === 'progress') libStarted();
          if (e.type === 'put' && e.value !== undefined) got.push(e.value);
          if (got.length === 2) break;
        }
        return got;
      })();
      await Promise.race([Promise.all(started), Promise.all([sse, ws, lib])]);
      await client.put('w:bin', value);
      await client.put('w:text', text);
      for (const [name, got] of [
        ['SSE', await sse],
        ['WebSocket', await ws],
        ['client', await lib],
      ] as const) {
        assert.equal(got.length, 2, name);
        assertSame(got[0], value, `${name} binary value`);
        assertSame(got[1], Buffer.from(text), `${name} text value`);
      }
    } finally {
      clearTimeout(timer);
      stop.abort();
    }
  });
});

/** eventValue is the value of a `put` event's JSON (`value` text or `value_base64`). */
function eventValue(e: { type?: string; value?: string; value_base64?: string }): Buffer | undefined {
  if (e.type !== 'put') return undefined;
  return e.value_base64 !== undefined ? Buffer.from(e.value_base64, 'base64') : Buffer.from(e.value ?? '');
}

/** sseValues reads an SSE watch until it has `n` put values; `onStart` is called at its hello. */
async function sseValues(
  url: string,
  signal: AbortSignal,
  n: number,
  onStart: () => void,
): Promise<Buffer[]> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream' }, signal });
  assert.equal(res.status, 200);
  const got: Buffer[] = [];
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body!) {
    text += decoder.decode(chunk as Uint8Array, { stream: true });
    let end;
    while ((end = text.indexOf('\n\n')) >= 0) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      const data = block.split('\n').find((l) => l.startsWith('data: '));
      if (data === undefined) continue;
      const ev = JSON.parse(data.slice(6)) as { type?: string };
      if (ev.type === 'hello') onStart();
      const v = eventValue(ev);
      if (v !== undefined) got.push(v);
      if (got.length === n) {
        await res.body!.cancel().catch(() => undefined);
        return got;
      }
    }
  }
  return got;
}

/** wsValues reads a WebSocket watch (text messages, maybe fragmented) until it has `n` put values; `onStart` is called at its hello. */
function wsValues(
  address: string,
  path: string,
  n: number,
  signal: AbortSignal,
  onStart: () => void,
): Promise<Buffer[]> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), host);
    const got: Buffer[] = [];
    let data = Buffer.alloc(0);
    let upgraded = false;
    let message: Buffer[] = [];
    const done = (err?: Error): void => {
      socket.destroy();
      if (err === undefined) resolve(got);
      else reject(err);
    };
    signal.addEventListener('abort', () => {
      done(new Error(`WebSocket: aborted with ${String(got.length)} values`));
    });
    socket.on('error', done);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    socket.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      if (!upgraded) {
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!data.subarray(0, end).toString('latin1').startsWith('HTTP/1.1 101')) {
          done(new Error(`no upgrade: ${data.subarray(0, end).toString('latin1')}`));
          return;
        }
        upgraded = true;
        data = data.subarray(end + 4);
      }
      for (;;) {
        if (data.length < 2) return;
        const fin = (data[0]! & 0x80) !== 0;
        const op = data[0]! & 0x0f;
        let len = data[1]! & 0x7f;
        let h = 2;
        if (len === 126) {
          if (data.length < 4) return;
          len = data.readUInt16BE(2);
          h = 4;
        } else if (len === 127) {
          if (data.length < 10) return;
          len = Number(data.readBigUInt64BE(2));
          h = 10;
        }
        if (data.length < h + len) return;
        const payload = data.subarray(h, h + len);
        data = data.subarray(h + len);
        if (op === 8) {
          done(new Error(`WebSocket closed with ${String(got.length)} values`));
          return;
        }
        if (op !== 1 && op !== 0) continue;
        message.push(payload);
        if (!fin) continue;
        const ev = JSON.parse(Buffer.concat(message).toString('utf8')) as { type?: string };
        message = [];
        if (ev.type === 'hello') onStart();
        const v = eventValue(ev);
        if (v !== undefined) got.push(v);
        if (got.length === n) {
          done();
          return;
        }
      }
    });
  });
}
