/**
 * Watch events over keys that are not UTF-8 (docs/watch.md, "Events"). RESP and `/kv/%FF...` write
 * any bytes, but JSON gives a key as text, where such a key shows with U+FFFD in place of its bytes:
 * `w\xFF1`, `w\x801` and `w\uFFFD1` all read `w\uFFFD1`. Events name such a key exactly in
 * `key_base64` (the binary stream sends the bytes as they are), the prefix is matched on bytes (a
 * prefix `w\uFFFD` is the bytes EF BF BD, which `w\xFF` does not start with), and the client library
 * and `distkv watch --json` give the bytes back. Seeded keys (helpers/binary-keys.ts) over two
 * shards, read as SSE, through the client (binary stream), from a cursor half way, as a snapshot
 * and through the CLI; each read must end at exactly the keys written.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DistkvClient, type WatchChange } from '../../src/client/index.js';
import { randomKeys } from '../helpers/binary-keys.js';
import { freePort } from '../helpers/ports.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

/** percentEncoded writes every byte of `key` as %XX, for a path. */
function percentEncoded(key: Uint8Array): string {
  return [...key].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}

const hex = (keys: readonly Uint8Array[]): string[] => keys.map((k) => Buffer.from(k).toString('hex')).sort();

/** exact is an event's key bytes: `key_base64` when given, else the text's UTF-8. */
function exact(ev: { key?: string; key_base64?: string }): Buffer {
  return ev.key_base64 !== undefined ? Buffer.from(ev.key_base64, 'base64') : Buffer.from(ev.key ?? '');
}

/** sseEvents reads `GET /watch?<query>` as SSE until `want` events of `types` came (bounded). */
async function sseEvents(address: string, query: string, want: number): Promise<Record<string, string>[]> {
  const stop = new AbortController();
  const timer = setTimeout(() => {
    stop.abort();
  }, 20000);
  const out: Record<string, string>[] = [];
  try {
    const res = await fetch(`http://${address}/watch?${query}`, { signal: stop.signal });
    assert.equal(res.status, 200);
    let text = '';
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      text += Buffer.from(chunk).toString('utf8');
      const blocks = text.split('\n\n');
      text = blocks.pop()!;
      for (const b of blocks) {
        const data = b.split('\n').find((l) => l.startsWith('data: '));
        if (data === undefined) continue;
        const ev = JSON.parse(data.slice(6)) as Record<string, string>;
        if (ev.type === 'put' || ev.type === 'delete') out.push(ev);
      }
      if (out.length >= want) break;
    }
  } finally {
    clearTimeout(timer);
    stop.abort();
  }
  assert.ok(out.length >= want, `${out.length} of ${want} events`);
  return out;
}

/** clientEvents runs `kv.watch(prefix, options)` until `want` changes came (bounded). */
async function clientEvents(
  kv: DistkvClient,
  prefix: string | Uint8Array,
  from: string,
  want: number,
): Promise<WatchChange[]> {
  const stop = new AbortController();
  const timer = setTimeout(() => {
    stop.abort();
  }, 20000);
  const out: WatchChange[] = [];
  try {
    for await (const ev of kv.watch(prefix, { from, signal: stop.signal })) {
      if (ev.type === 'put' || ev.type === 'delete') out.push(ev);
      if (out.length >= want) break;
    }
  } catch (err) {
    if (!stop.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
  }
  assert.ok(out.length >= want, `${out.length} of ${want} changes`);
  return out;
}

/** EXTRA is a key under `w\uFFFD` the prefix test writes and deletes. */
const EXTRA = Buffer.from('w\uFFFDzz');

const bytesOf = (ev: WatchChange): Buffer => ev.keyBytes ?? Buffer.from(ev.key ?? '');

describe('watch over keys that are not UTF-8', () => {
  let address = '';
  let server: ServerProcess | undefined;
  let kv: DistkvClient | undefined;
  const seed = testSeed();
  // (one key under w\xFF at least, for the prefix given as bytes)
  const keys = [
    ...new Map(
      [...randomKeys(seededRandom(seed), 'w', 40), Buffer.from([0x77, 0xff, 0x21])].map((k) => [
        k.toString('hex'),
        k,
      ]),
    ).values(),
  ];
  // U+FFFD itself under `w`: the prefix `w\uFFFD` must give these and none of the bytes it stands for.
  const replacement = keys.filter((k) => k.subarray(0, 4).equals(Buffer.from('w\uFFFD')));

  before(async () => {
    address = `127.0.0.1:${String(await freePort())}`;
    const config = writeConfig(dir, [{ address }, { address }]);
    server = await ServerProcess.start(
      ['--config', config, '--data-dir', join(dir, 'data')],
      `http://${address}/healthz`,
      { DISTKV_LOG_LEVEL: 'warn' },
    );
    for (const k of [...keys, Buffer.from([0x76, 0xff])]) {
      const r = await fetch(`http://${address}/kv/${percentEncoded(k)}`, { method: 'PUT', body: 'v' });
      assert.equal(r.status, 204, `seed ${seed}: PUT ${k.toString('hex')}`);
    }
    kv = new DistkvClient({ urls: [address] });
  });

  after(async () => {
    await kv?.close();
    await server?.stop();
  });
  // Created here, not in before(): an after() registered inside a before() runs as soon as that
  // hook ends (Node 20) and removed the data directory under the running server. Registered after
  // the stop hook, so the server stops before the directory is removed.
  const dir = tempDir(after);

  it('names every key exactly over SSE (key_base64), from the log and as a snapshot', async () => {
    const replay = await sseEvents(address, 'prefix=w&from=0.0', keys.length);
    assert.deepEqual(hex(replay.map(exact)), hex(keys), `seed ${seed}: replay`);
    // A version whose epoch did not write its seq: a snapshot of the current keys.
    const snap = await sseEvents(address, 'prefix=w&from=7.1&values=0', keys.length);
    assert.ok(snap.every((e) => e.value === undefined && e.value_base64 === undefined));
    assert.deepEqual(hex(snap.map(exact)), hex(keys), `seed ${seed}: snapshot`);
  });

  it('filters the prefix on bytes: w\\uFFFD is not w\\xFF', async () => {
    assert.ok(replacement.length < keys.length);
    const want = replacement.length + 1;
    // One more key under the prefix, so the stream has something to end on when none came first.
    const last = EXTRA;
    const r = await fetch(`http://${address}/kv/${percentEncoded(last)}`, { method: 'PUT', body: 'v' });
    assert.equal(r.status, 204);
    const got = await sseEvents(address, `prefix=${encodeURIComponent('w\uFFFD')}&from=0.0`, want);
    assert.deepEqual(hex(got.map(exact)), hex([...replacement, last]), `seed ${seed}`);
    await fetch(`http://${address}/kv/${percentEncoded(last)}`, { method: 'DELETE' });
  });

  it('gives the exact bytes back through the client (binary stream), and resumes from a cursor', async () => {
    // Every key's put, and the put and delete of the key the test before added.
    const all = await clientEvents(kv!, 'w', '0.0', keys.length + 2);
    const written = all.map(bytesOf).filter((k) => !k.equals(EXTRA));
    assert.deepEqual(hex(written), hex(keys), `seed ${seed}`);
    for (const e of all)
      if (e.keyBytes !== undefined) assert.ok(e.key!.includes('\uFFFD'), 'keyBytes only for keys not UTF-8');
    const half = Math.floor(all.length / 2);
    const rest = await clientEvents(kv!, 'w', all[half - 1]!.cursor, all.length - half);
    assert.deepEqual(
      hex(rest.map(bytesOf)),
      hex(all.slice(half).map(bytesOf)),
      `seed ${seed}: resumed after event ${half}`,
    );
  });

  it('takes a prefix that is not UTF-8 as prefix_base64 (the client sends bytes so), and refuses it with prefix', async () => {
    const bytes = Buffer.from([0x77, 0xff]);
    const under = keys.filter((k) => k.subarray(0, 2).equals(bytes));
    const got = await clientEvents(kv!, bytes, '0.0', under.length);
    assert.deepEqual(hex(got.map(bytesOf)), hex(under), `seed ${seed}`);
    const sse = await sseEvents(
      address,
      `prefix_base64=${encodeURIComponent(bytes.toString('base64'))}&from=0.0`,
      under.length,
    );
    assert.deepEqual(hex(sse.map(exact)), hex(under), `seed ${seed}: SSE`);
    for (const [query, why] of [
      ['prefix=w&prefix_base64=dw%3D%3D', /prefix or prefix_base64, not both/],
      ['prefix_base64=dw', /canonical base64/],
    ] as const) {
      const r = await fetch(`http://${address}/watch?${query}`);
      assert.equal(r.status, 400, query);
      assert.match(await r.text(), why);
    }
  });

  it('distkv watch --json writes key_base64 for them', async () => {
    const watch = ServerProcess.spawn(['watch', 'w', '--url', address, '--from', '0.0', '--json']);
    const deadline = Date.now() + 20000;
    const lines = (): Record<string, string>[] =>
      watch.stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, string>);
    while (lines().length < keys.length + 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    watch.child.kill('SIGINT');
    assert.equal(await watch.waitExit(), 0);
    const written = lines()
      .map(exact)
      .filter((k) => !k.equals(EXTRA));
    assert.deepEqual(hex(written), hex(keys), `seed ${seed}`);
  });

  it('distkv watch --prefix-base64 watches a prefix that is not UTF-8, as distkv scan does', async () => {
    // It had no such option (exit 2, "unknown option"): keys it printed as key_base64 could not
    // be watched by their own bytes.
    const bytes = Buffer.from([0x77, 0xff]);
    const under = keys.filter((k) => k.subarray(0, 2).equals(bytes));
    const args = ['--prefix-base64', bytes.toString('base64'), '--url', address, '--from', '0.0', '--json'];
    const watch = ServerProcess.spawn(['watch', ...args]);
    const deadline = Date.now() + 20000;
    const puts = (): Record<string, string>[] =>
      watch.stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, string>)
        .filter((ev) => ev.type === 'put');
    while (puts().length < under.length && Date.now() < deadline && watch.child.exitCode === null)
      await new Promise((r) => setTimeout(r, 20));
    watch.child.kill('SIGINT');
    assert.equal(await watch.waitExit(), 0, watch.stderr);
    assert.deepEqual(hex(puts().map(exact)), hex(under), `seed ${seed}`);
    const both = ServerProcess.spawn(['watch', 'w', ...args]);
    assert.equal(await both.waitExit(), 2);
    assert.match(both.stderr, /with --prefix-base64, no PREFIX/);
  });
});
