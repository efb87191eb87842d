/**
 * The server commands tools send that distkv used to refuse, through redis-cli against a spawned
 * node (docs/resp.md): TIME, RANDOMKEY, CLIENT LIST (with TYPE and ID filters) and CLIENT INFO in
 * redis-server 7.0's format, and INFO keyspace counting the keys with an expiry (`expires=`,
 * `avg_ttl=`), which said `expires=0` whatever the keys held. One process hosts node A (leader of
 * both shards) and node B (their replica); the tests run in order on its keys.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/failover-model.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { redisCli, respOf, runTool } from '../helpers/resp.js';
import { exchange, splitReplies, startRespPair, Wire, encode } from './resp-wire.js';

let A = '';
let B = '';
let stop = (): Promise<void> => Promise.resolve();
const cli = (...args: string[]): Promise<string> => redisCli(A, args);
/** err runs a command whose reply is an error: redis-cli prints it followed by an empty line. */
const err = async (...args: string[]): Promise<string> => (await cli(...args)).replace(/\n\n$/, '\n');

before(async () => {
  ({ A, B, stop } = await startRespPair());
});

after(() => stop());

/** keyspaceOf reads `INFO keyspace`'s db0 line as numbers (undefined when the node holds no key). */
async function keyspaceOf(): Promise<{ keys: number; expires: number; avgTtl: number } | undefined> {
  const text = await cli('INFO', 'keyspace');
  assert.match(text, /^# Keyspace\r?\n/);
  const m = /db0:keys=(\d+),expires=(\d+),avg_ttl=(\d+)/.exec(text);
  return m === null ? undefined : { keys: Number(m[1]), expires: Number(m[2]), avgTtl: Number(m[3]) };
}

/** LINE is a CLIENT LIST line of redis-server 7.0: its fields in its order. */
const LINE =
  /^id=(\d+) addr=(\S+) laddr=(\S+) fd=-?\d+ name=(\S*) age=\d+ idle=\d+ flags=([A-Za-z]+) db=0 sub=0 psub=0 ssub=0 multi=-?\d+ qbuf=\d+ qbuf-free=\d+ argv-mem=\d+ multi-mem=\d+ rbs=\d+ rbp=\d+ obl=\d+ oll=\d+ omem=\d+ tot-mem=\d+ events=r?w? cmd=(\S+) user=default redir=-1 resp=([23])$/;

describe('TIME', () => {
  it('answers the Unix time in seconds and the microseconds within it, as redis-server does', async () => {
    const before = Date.now();
    const [sec, usec] = (await cli('TIME')).trim().split('\n') as [string, string];
    const afterMs = Date.now();
    assert.match(sec, /^\d+$/);
    assert.match(usec, /^(0|[1-9]\d{0,5})$/, 'microseconds, unpadded, below 1000000');
    const ms = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    assert.ok(ms >= before - 1 && ms <= afterMs + 1, `TIME ${ms} outside ${before}..${afterMs}`);
    assert.equal(await err('TIME', 'x'), "ERR wrong number of arguments for 'time' command\n");
    // The raw reply: an array of two bulk strings, in RESP2 and RESP3 alike.
    const [r2, , r3] = splitReplies(await exchange(respOf(A), [['TIME'], ['HELLO', '3'], ['TIME']]));
    for (const r of [r2!, r3!]) assert.match(r, /^\*2\r\n\$\d+\r\n\d+\r\n\$\d+\r\n\d+\r\n$/);
  });
});

/** DRAW_BATCHES bounds the batches of 40 RANDOMKEYs drawn until three distinct keys show. */
const DRAW_BATCHES = 10;

describe('RANDOMKEY', () => {
  it('answers nil on a node without keys, then only keys it holds, and several of them (seeded model)', async () => {
    assert.equal(await cli('RANDOMKEY'), '\n', 'nil: the node holds no key yet');
    const seed = testSeed();
    const rand = seededRandom(seed);
    const held = new Set<string>();
    try {
      // Keys of very different shapes: a common prefix, binary-looking bytes, one byte long.
      const names = [
        ...Array.from({ length: 60 }, (_, i) => `user:${i}`),
        ...Array.from({ length: 20 }, (_, i) => `z${String.fromCharCode(97 + i)}`),
        'a',
        'user',
      ];
      for (let round = 0; round < 6; round++) {
        const adds = names.filter(() => rand() < 0.5);
        const dels = [...held].filter(() => rand() < 0.3);
        const { host, port } = respOf(A);
        const script = [...adds.map((k) => `SET ${k} v`), ...dels.map((k) => `DEL ${k}`)].join('\n');
        if (script !== '') {
          const r = await runTool('redis-cli', ['-h', host, '-p', String(port)], Buffer.from(`${script}\n`));
          assert.equal(r.code, 0, r.stderr);
        }
        for (const k of adds) held.add(k);
        for (const k of dels) held.delete(k);
        // Keys are not drawn with equal chances (docs/resp.md): in a store of more than a page of
        // keys, one alone in its branch of the byte tree (`a`, `user`) can take most draws, so 40
        // draws may show only two keys. Draw 40 more, up to DRAW_BATCHES times, until three show.
        const seen = new Set<string>();
        for (
          let batch = 0;
          batch < DRAW_BATCHES && (batch === 0 || (held.size >= 5 && seen.size < 3));
          batch++
        ) {
          const drawn = (
            await runTool('redis-cli', ['-h', host, '-p', String(port), '-r', '40', 'RANDOMKEY'])
          ).stdout
            .split('\n')
            .slice(0, -1);
          assert.equal(drawn.length, 40);
          for (const k of drawn) {
            assert.ok(
              held.has(k),
              `seed ${seed} round ${round}: RANDOMKEY answered ${JSON.stringify(k)}, not held`,
            );
            seen.add(k);
          }
        }
        if (held.size >= 5)
          assert.ok(
            seen.size >= 3,
            `seed ${seed} round ${round}: ${DRAW_BATCHES * 40} draws gave ${seen.size} keys of ${held.size}`,
          );
      }
      // Every key deleted (one DEL each: the keys are in different slots): nil again.
      const { host, port } = respOf(A);
      const dels = [...held].map((k) => `DEL ${k}`).join('\n');
      if (dels !== '')
        assert.equal(
          (await runTool('redis-cli', ['-h', host, '-p', String(port)], Buffer.from(`${dels}\n`))).code,
          0,
        );
      held.clear();
      assert.equal(await cli('RANDOMKEY'), '\n');
    } catch (e) {
      console.error(`RANDOMKEY model failed with DISTKV_SEED=${seed}`);
      throw e;
    }
    assert.equal(await err('RANDOMKEY', 'x'), "ERR wrong number of arguments for 'randomkey' command\n");
  });

  it('draws a key written just before it on the same connection, and a replica key after READONLY', async () => {
    const replies = splitReplies(
      await exchange(respOf(A), [
        ['SET', 'only-key', 'v'],
        ['RANDOMKEY'],
        ['DEL', 'only-key'],
        ['RANDOMKEY'],
      ]),
    );
    assert.deepEqual(replies, ['+OK\r\n', '$8\r\nonly-key\r\n', ':1\r\n', '$-1\r\n']);
    await cli('SET', 'replicated', 'v');
    // B serves no key until READONLY; its replica then answers from its own copy.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = splitReplies(await exchange(respOf(B), [['READONLY'], ['RANDOMKEY']]));
      if (r[1] === '$10\r\nreplicated\r\n') break;
      assert.ok(Date.now() < deadline, `B's RANDOMKEY after READONLY: ${r[1]}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(await redisCli(B, ['RANDOMKEY']), '\n', 'without READONLY, B leads no shard');
    await cli('DEL', 'replicated');
  });
});

describe('CLIENT LIST and CLIENT INFO', () => {
  it("lists every connection of the listener in redis-server 7.0's line format, its own with cmd=client|list", async () => {
    const other = await Wire.open(respOf(A));
    try {
      other.socket.write(encode(['CLIENT', 'SETNAME', 'worker-7']));
      await other.replies(1);
      const text = await cli('CLIENT', 'LIST');
      const lines = text.trimEnd().split('\n');
      assert.ok(lines.length >= 2, text);
      for (const l of lines) assert.match(l, LINE);
      const named = lines.find((l) => / name=worker-7 /.test(l));
      assert.ok(named, text);
      assert.match(named, / flags=N .* cmd=client\|setname /);
      const own = lines.find((l) => / cmd=client\|list /.test(l));
      assert.ok(own, 'the connection that sent CLIENT LIST');
      assert.match(own, /addr=127\.0\.0\.1:\d+ laddr=127\.0\.0\.1:\d+ /);
      const id = LINE.exec(named)![1]!;
      const byId = await cli('CLIENT', 'LIST', 'ID', id, '999999');
      assert.equal(byId.trimEnd().split('\n').length, 1);
      assert.match(byId, / name=worker-7 /);
      assert.match(await cli('CLIENT', 'LIST', 'TYPE', 'normal'), / name=worker-7 /);
      for (const type of ['master', 'replica', 'slave', 'PUBSUB'])
        assert.equal(await cli('CLIENT', 'LIST', 'TYPE', type), '', type);
    } finally {
      other.close();
    }
  });

  it('refuses what redis-server 7.0 refuses, with its errors', async () => {
    assert.equal(await err('CLIENT', 'LIST', 'TYPE', 'foo'), "ERR Unknown client type 'foo'\n");
    assert.equal(await err('CLIENT', 'LIST', 'ID', 'abc'), 'ERR Invalid client ID\n');
    assert.equal(await err('CLIENT', 'LIST', 'ID', '1', 'TYPE', 'normal'), 'ERR Invalid client ID\n');
    for (const args of [['TYPE'], ['ID'], ['bogus'], ['TYPE', 'normal', 'ID', '1']])
      assert.equal(await err('CLIENT', 'LIST', ...args), 'ERR syntax error\n', args.join(' '));
    assert.equal(
      await err('CLIENT', 'INFO', 'x'),
      "ERR wrong number of arguments for 'client|info' command\n",
    );
  });

  it('describes the connection that sends CLIENT INFO: its flags in MULTI and after READONLY, its protocol, verbatim in RESP3', async () => {
    const replies = splitReplies(
      await exchange(respOf(A), [
        ['CLIENT', 'INFO'],
        ['READONLY'],
        ['CLIENT', 'INFO'],
        ['MULTI'],
        ['CLIENT', 'INFO'],
        ['DISCARD'],
        ['HELLO', '3'],
        ['CLIENT', 'INFO'],
      ]),
    );
    const line = (r: string): string => r.replace(/^\$\d+\r\n|^=\d+\r\ntxt:/, '').replace(/\n\r\n$/, '');
    assert.match(line(replies[0]!), LINE);
    assert.match(line(replies[0]!), / flags=N .* multi=-1 .* cmd=client\|info .* resp=2$/);
    assert.match(line(replies[2]!), / flags=r /);
    assert.ok(replies[7]!.startsWith('=') && replies[7]!.includes('txt:id='), replies[7]);
    assert.match(line(replies[7]!), / flags=r .* resp=3$/);
    assert.equal(
      LINE.exec(line(replies[0]!))![1],
      LINE.exec(line(replies[7]!))![1],
      'one connection, one id',
    );
  });
});

describe('INFO keyspace', () => {
  it('counts the keys with an expiry and their mean time left, following each write', async () => {
    // `keys` is the stores' count, an estimate on the lsm engine (it counts the keys deleted above).
    await cli('SET', 'plain', 'v');
    assert.deepEqual({ ...(await keyspaceOf()), keys: 0 }, { keys: 0, expires: 0, avgTtl: 0 });
    const now = Date.now();
    await cli('SET', 'ttl-a', 'v', 'PX', '100000');
    await cli('SET', 'ttl-b', 'v', 'EX', '300');
    const at = now + 500_000;
    const put = await fetch(`http://${A}/kv/ttl-c?expires_at_ms=${at}`, { method: 'PUT', body: 'v' });
    assert.equal(put.status, 204);
    const ks = (await keyspaceOf())!;
    assert.ok(ks.keys >= 4);
    assert.equal(ks.expires, 3);
    // Mean of about 100 s, 300 s and 500 s from now, less the time the commands took.
    const mean = (100_000 + 300_000 + 500_000) / 3;
    assert.ok(ks.avgTtl <= mean && ks.avgTtl > mean - 10_000, `avg_ttl ${ks.avgTtl}, expected about ${mean}`);
    await cli('PERSIST', 'ttl-b');
    assert.equal((await keyspaceOf())!.expires, 2);
    await cli('DEL', 'ttl-a');
    assert.equal((await keyspaceOf())!.expires, 1);
    // A key whose expiry passes is no longer counted. Set and counted on one connection, which
    // proves something only when it answered before the expiry: on a loaded machine, again with a
    // longer one (as resp-tools.test.ts's beforeExpiry).
    let counted = false;
    for (const ms of [300, 1200, 4800]) {
      const started = Date.now();
      const [, infoText] = splitReplies(
        await exchange(respOf(A), [
          ['SET', `short-${ms}`, 'v', 'PX', String(ms)],
          ['INFO', 'keyspace'],
        ]),
      );
      if (Date.now() - started >= ms) continue;
      assert.match(infoText!, /expires=2,/);
      // Once it expired, a census reused until the reaper's expire record moves the store's seq
      // (or for 1 s) may still count it: wait for that, within a generous bound.
      await new Promise((r) => setTimeout(r, ms));
      await waitFor(
        'INFO keyspace to stop counting the expired key',
        async () => (await keyspaceOf())!.expires === 1,
      );
      counted = true;
      break;
    }
    assert.ok(counted, 'every SET and INFO took longer than the key lived');
    // INFO (all sections) carries the same line.
    assert.match(await cli('INFO'), /db0:keys=\d+,expires=1,avg_ttl=\d+/);
    for (const k of ['plain', 'ttl-b', 'ttl-c']) await cli('DEL', k);
  });

  it('counts every expiring key of a node with more keys than a census page, across both shards', async () => {
    const { host, port } = respOf(A);
    const lines: string[] = [];
    for (let i = 0; i < 2500; i++) lines.push(i % 5 === 0 ? `SET many:${i} v PX 3600000` : `SET many:${i} v`);
    const r = await runTool(
      'redis-cli',
      ['-h', host, '-p', String(port)],
      Buffer.from(`${lines.join('\n')}\n`),
    );
    assert.equal(r.code, 0, r.stderr);
    const ks = (await keyspaceOf())!;
    assert.equal(ks.expires, 500);
    assert.ok(ks.avgTtl > 3_500_000 && ks.avgTtl <= 3_600_000, String(ks.avgTtl));
  });
});
