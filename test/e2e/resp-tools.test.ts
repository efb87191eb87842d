/**
 * The RESP listener against the real Redis tools: redis-cli for the handshake and each command,
 * redis-benchmark to completion, and ioredis for binary values shared with the HTTP API. One
 * process hosts a leader node A (every shard) and a replica node B, as `npm start` does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { seededRandom, testSeed } from '../helpers/random.js';
import { freeNodeAddress, redisCli, respOf, runTool } from '../helpers/resp.js';
import { type ServerProcess, startOwnServer } from '../helpers/server-process.js';
import { encode, exchange, splitReplies, Wire } from './resp-wire.js';

let server: ServerProcess;
let stop = (): Promise<void> => Promise.resolve();
let A = '';
let B = '';
const cli = (...args: string[]): Promise<string> => redisCli(A, args);
/** err runs a command whose reply is an error: redis-cli prints it followed by an empty line. */
const err = async (...args: string[]): Promise<string> => (await cli(...args)).replace(/\n\n$/, '\n');

/** session runs `commands` in one redis-cli process (one connection, one command at a time); returns its output lines. */
async function session(commands: string[]): Promise<{ lines: string[] }> {
  const { host, port } = respOf(A);
  const r = await runTool(
    'redis-cli',
    ['-h', host, '-p', String(port)],
    Buffer.from(`${commands.join('\n')}\n`),
  );
  assert.equal(r.code, 0, r.stderr);
  return { lines: r.stdout.split('\n').slice(0, -1) };
}

/** EXPIRIES are the expiries `beforeExpiry` tries, in ms: the first as short as the test can afford. */
const EXPIRIES = [300, 1200, 4800];

/**
 * beforeExpiry runs `commands(key, ms)`, which give `key` an expiry of `ms` and read it back, in one
 * redis-cli session, and returns its lines, the key, `ms` and when the session ended. The server
 * computes the expiry after `started` and answered every read before `ended`, so when the session
 * ended within `ms` of its start its reads ran before the key could expire, however loaded the
 * machine; a session that took longer proves nothing and is run again with a new key and a 4 times
 * longer expiry, 3 times at most. From `ended + ms` on the key must be gone: the server computed
 * its expiry before `ended`.
 */
async function beforeExpiry(
  name: string,
  commands: (key: string, ms: number) => string[],
): Promise<{ key: string; ms: number; lines: string[]; ended: number }> {
  const took: number[] = [];
  for (const ms of EXPIRIES) {
    const key = `${name}-${ms}`;
    const started = Date.now();
    const { lines } = await session(commands(key, ms));
    const ended = Date.now();
    if (ended - started < ms) return { key, ms, lines, ended };
    took.push(ended - started);
  }
  assert.fail(
    `each redis-cli session outlived its key's expiry (${EXPIRIES.join(', ')} ms): took ${took.join(', ')} ms`,
  );
}

/** waitUntil sleeps until `Date.now()` reaches `at`. */
async function waitUntil(at: number): Promise<void> {
  while (Date.now() < at) await new Promise((r) => setTimeout(r, at - Date.now()));
}

function assertInRange(n: number, lo: number, hi: number, what: string): void {
  assert.ok(Number.isInteger(n) && n >= lo && n <= hi, `${what}: ${n}, expected ${lo}..${hi}`);
}

before(async () => {
  A = await freeNodeAddress();
  B = await freeNodeAddress();
  ({ server, stop } = await startOwnServer(
    [0, 1, 2, 3].map(() => ({ address: A, replicas: [B] })),
    '[server]\nmax_value_bytes = 65536\n',
    ['--workers', '1'],
  ));
});

after(() => stop());

describe('RESP handshake with redis-cli', () => {
  it('prints the RESP address of each node at startup', () => {
    assert.match(
      server.stdout,
      new RegExp(`RESP \\(Redis protocol\\) on redis://127.0.0.1:${respOf(A).port}`),
    );
  });

  it("names each node's RESP address in /cluster", async () => {
    const doc = (await (await fetch(`http://${A}/cluster`)).json()) as { resp: Record<string, string> };
    assert.deepEqual(doc.resp, {
      [A]: `127.0.0.1:${respOf(A).port}`,
      [B]: `127.0.0.1:${respOf(B).port}`,
    });
  });

  it('answers PING, ECHO, SELECT 0, CLIENT SETNAME / GETNAME / ID / SETINFO and QUIT', async () => {
    assert.equal(await cli('PING'), 'PONG\n');
    assert.equal(await cli('PING', 'hi'), 'hi\n');
    assert.equal(await cli('ECHO', 'x y'), 'x y\n');
    assert.equal(await cli('SELECT', '0'), 'OK\n');
    assert.equal(await err('SELECT', '1'), 'ERR SELECT is not allowed in cluster mode\n');
    assert.match(await cli('CLIENT', 'ID'), /^\d+\n$/);
    assert.equal(await cli('CLIENT', 'SETINFO', 'lib-name', 'test'), 'OK\n');
    assert.equal(await cli('CLIENT', 'SETNAME', 'me'), 'OK\n');
    assert.equal(await cli('QUIT'), 'OK\n');
  });

  it('speaks RESP3 after HELLO 3 and refuses other versions with NOPROTO', async () => {
    const hello = await cli('HELLO', '3');
    assert.match(hello, /^server redis\nversion 7\.\d+\.\d+\nproto 3\n/);
    assert.match(hello, /mode cluster\nrole master/);
    assert.equal(await err('HELLO', '4'), 'NOPROTO unsupported protocol version\n');
    const r = await runTool('redis-cli', [
      '-3',
      '-h',
      respOf(A).host,
      '-p',
      String(respOf(A).port),
      'GET',
      'missing-in-resp3',
    ]);
    assert.equal(r.stdout, '\n', 'a RESP3 null');
  });

  it('answers in RESP3 with the types Redis 7 uses: verbatim text for INFO, CLUSTER NODES / INFO, CLIENT INFO; sets in COMMAND INFO', async () => {
    const text: string[][] = [
      ['INFO', 'server'],
      ['CLUSTER', 'NODES'],
      ['CLUSTER', 'INFO'],
      ['CLIENT', 'INFO'],
    ];
    const r3 = splitReplies(await exchange(respOf(A), [['HELLO', '3'], ...text, ['COMMAND', 'INFO', 'get']]));
    for (const [i, cmd] of text.entries()) {
      const reply = r3[i + 1]!;
      const m = /^=(\d+)\r\ntxt:/.exec(reply);
      assert.ok(m, `${cmd.join(' ')}: ${JSON.stringify(reply.slice(0, 40))}`);
      assert.equal(
        Number(m[1]),
        Buffer.byteLength(reply, 'latin1') - m[0].length + 4 - 2,
        'length counts "txt:"',
      );
    }
    // name, arity, flags (set), first, last, step, ACL categories (set), tips (set), key specs, subcommands (set)
    assert.match(
      r3[5]!,
      /^\*1\r\n\*10\r\n\$3\r\nget\r\n:2\r\n~\d+\r\n(\+\w+\r\n)+:1\r\n:1\r\n:1\r\n~1\r\n\+@\w+\r\n~0\r\n\*0\r\n~0\r\n$/,
    );
    const r2 = splitReplies(await exchange(respOf(A), text));
    for (const reply of r2) assert.match(reply, /^\$\d+\r\n/, 'bulk strings in RESP2');
  });

  it('reports INFO with loading:0 and the replication and keyspace sections', async () => {
    await cli('SET', 'info-key', '1');
    const info = await cli('INFO');
    for (const line of [
      'loading:0',
      '# Replication',
      'role:master',
      'connected_slaves:1',
      '# Keyspace',
      'cluster_enabled:1',
    ])
      assert.ok(info.includes(line), `INFO lacks ${line}:\n${info}`);
    assert.match(info, /db0:keys=\d+,expires=0,avg_ttl=0/);
    assert.match(await cli('INFO', 'replication'), /^# Replication\r?\nrole:master/);
    assert.match(
      await redisCli(B, ['INFO', 'replication']),
      /role:slave\r?\nmaster_host:127\.0\.0\.1\r?\nmaster_port:\d+/,
    );
  });

  it('reports the INFO fields redis-cli --stat reads, blocked_clients counting a WAIT in progress', async () => {
    // redis-cli --stat printed -9223372036854775808 for the fields INFO lacked.
    const before = Number(/total_connections_received:(\d+)/.exec(await cli('INFO', 'stats'))?.[1]);
    assert.ok(before > 0);
    const w = await Wire.open(respOf(A));
    try {
      // More replicas than there are: it waits its whole timeout.
      w.socket.write(encode(['WAIT', '5', '3000']));
      const deadline = Date.now() + 2000;
      let clients = '';
      while (Date.now() < deadline && !/blocked_clients:1\b/.test(clients))
        clients = await cli('INFO', 'clients');
      assert.match(clients, /blocked_clients:1\b/);
      assert.equal(await w.replies(1, 5000), ':1\r\n');
      assert.match(await cli('INFO', 'clients'), /blocked_clients:0\b/);
    } finally {
      w.close();
    }
    const after = Number(/total_connections_received:(\d+)/.exec(await cli('INFO', 'stats'))?.[1]);
    assert.ok(after >= before + 3, `${before} then ${after}`);
  });

  it('answers COMMAND COUNT, COMMAND INFO with key positions, COMMAND DOCS and CONFIG GET', async () => {
    const count = Number(await cli('COMMAND', 'COUNT'));
    assert.ok(count >= 25, `COMMAND COUNT ${count}`);
    const info = (await cli('COMMAND', 'INFO', 'get', 'mset', 'del')).split('\n');
    // name, arity, flags..., first key, last key, step: checked by position after the flags.
    const at = (name: string): string[] => info.slice(info.indexOf(name));
    assert.deepEqual(at('get').slice(1, 2), ['2']);
    assert.deepEqual(at('get').slice(4, 7), ['1', '1', '1']);
    assert.deepEqual(at('mset').slice(1, 2), ['-3']);
    assert.deepEqual(at('mset').slice(4, 7), ['1', '-1', '2']);
    assert.deepEqual(at('del').slice(1, 2), ['-2']);
    assert.deepEqual(at('del').slice(3, 6), ['1', '-1', '1']);
    assert.match(await cli('COMMAND', 'DOCS', 'get'), /^get\nsummary\n.+\nsince\n/);
    assert.equal(await cli('CONFIG', 'GET', 'save'), 'save\n\n');
    assert.equal(await cli('CONFIG', 'GET', 'appendonly'), 'appendonly\nyes\n');
    assert.equal(await cli('CONFIG', 'GET', 'appendfsync'), 'appendfsync\nalways\n');
  });

  it('words unknown commands, wrong arity and CROSSSLOT exactly as Redis does', async () => {
    assert.equal(
      await err('FOO', 'a', 'b'),
      "ERR unknown command 'FOO', with args beginning with: 'a' 'b' \n",
    );
    assert.equal(await err('GET'), "ERR wrong number of arguments for 'get' command\n");
    assert.equal(await err('PING', 'a', 'b'), "ERR wrong number of arguments for 'ping' command\n");
    assert.equal(
      await err('COMMAND', 'COUNT', 'x'),
      "ERR wrong number of arguments for 'command|count' command\n",
    );
    assert.equal(await err('MGET', 'a', 'b'), "CROSSSLOT Keys in request don't hash to the same slot\n");
    assert.equal(await err('CLUSTER', 'NOPE'), "ERR unknown subcommand 'NOPE'. Try CLUSTER HELP.\n");
  });
});

describe('RESP data commands with redis-cli', () => {
  it('SET / GET / STRLEN / TYPE / EXISTS / DEL', async () => {
    assert.equal(await cli('SET', 'k1', 'hello'), 'OK\n');
    assert.equal(await cli('GET', 'k1'), 'hello\n');
    assert.equal(await cli('STRLEN', 'k1'), '5\n');
    assert.equal(await cli('TYPE', 'k1'), 'string\n');
    assert.equal(await cli('TYPE', 'nope'), 'none\n');
    assert.equal(await cli('EXISTS', 'k1'), '1\n');
    assert.equal(await cli('DEL', 'k1'), '1\n');
    assert.equal(await cli('DEL', 'k1'), '0\n');
    assert.equal(await cli('GET', 'k1'), '\n');
    assert.equal(await cli('EXISTS', 'k1'), '0\n');
  });

  it('SET NX / XX / GET, EX / PX with NX / XX, KEEPTTL, and Redis errors for bad expiries', async () => {
    assert.equal(await cli('SET', 'c', 'a', 'NX'), 'OK\n');
    assert.equal(await cli('SET', 'c', 'b', 'NX'), '\n');
    assert.equal(await cli('SET', 'c', 'b', 'XX', 'GET'), 'a\n');
    assert.equal(await cli('SET', 'nx-none', 'v', 'XX'), '\n');
    assert.equal(await cli('GET', 'c'), 'b\n');
    assert.equal(await err('SET', 'c', 'v', 'NX', 'XX'), 'ERR syntax error\n');
    const s = await beforeExpiry('ttl', (k, ms) => [
      `SET ${k} v PX ${ms} NX`,
      `SET ${k} w PX ${ms} NX`,
      `SET ${k} w XX KEEPTTL`,
      `GET ${k}`,
      `PTTL ${k}`,
    ]);
    assert.deepEqual(s.lines.slice(0, 4), ['OK', '', 'OK', 'w']);
    assertInRange(Number(s.lines[4]), 1, s.ms, 'PTTL after KEEPTTL');
    await waitUntil(s.ended + s.ms);
    assert.equal(await cli('GET', s.key), '\n', 'KEEPTTL kept the expiry, which passed');
    assert.equal(await cli('SET', 'c', 'v', 'EX', '100'), 'OK\n');
    assert.equal(await err('SET', 'c', 'v', 'EX', '0'), "ERR invalid expire time in 'set' command\n");
    assert.equal(await err('SET', 'c', 'v', 'PX', 'x'), 'ERR value is not an integer or out of range\n');
    assert.equal(await err('SET', 'c', 'v', 'EX', '1', 'PX', '1'), 'ERR syntax error\n');
  });

  it('TTL / PTTL / EXPIRE / PEXPIRE / PERSIST', async () => {
    assert.equal(await cli('TTL', 'no-such'), '-2\n');
    assert.equal(await cli('SET', 'e', 'v'), 'OK\n');
    assert.equal(await cli('TTL', 'e'), '-1\n');
    assert.equal(await cli('PERSIST', 'e'), '0\n');
    // TTL rounds half up: 100 s less what the session took, at most.
    const started = Date.now();
    const ttl = (await session(['EXPIRE e 100', 'TTL e'])).lines;
    const took = Date.now() - started;
    assert.equal(ttl[0], '1');
    assertInRange(Number(ttl[1]), Math.round((100000 - took) / 1000), 100, `TTL ${took} ms after EXPIRE 100`);
    assert.equal(await cli('PERSIST', 'e'), '1\n');
    assert.equal(await cli('PTTL', 'e'), '-1\n');
    const s = await beforeExpiry('pe', (k, ms) => [
      `SET ${k} v`,
      `PEXPIRE ${k} ${ms}`,
      `GET ${k}`,
      `PTTL ${k}`,
    ]);
    assert.deepEqual(s.lines.slice(0, 3), ['OK', '1', 'v'], 'EXPIRE keeps the value');
    assertInRange(Number(s.lines[3]), 1, s.ms, 'PTTL after PEXPIRE');
    await waitUntil(s.ended + s.ms);
    assert.equal(await cli('GET', s.key), '\n', 'the expiry passed');
    assert.equal(await cli('EXPIRE', s.key, '10'), '0\n');
    assert.equal(await cli('EXPIRE', s.key, '0'), '0\n', 'a time of 0 deletes the key, which is missing');
  });

  it('MSET / MGET / EXISTS / DEL over keys sharing a hash tag', async () => {
    assert.equal(await cli('MSET', '{u1}.a', '1', '{u1}.b', '2'), 'OK\n');
    assert.equal(await cli('MGET', '{u1}.a', '{u1}.b', '{u1}.c'), '1\n2\n\n');
    assert.equal(await cli('EXISTS', '{u1}.a', '{u1}.b', '{u1}.c', '{u1}.a'), '3\n');
    assert.equal(await cli('DEL', '{u1}.a', '{u1}.c'), '1\n');
  });

  it('INCR / INCRBY / DECR / DECRBY, with Redis errors for non-integers and overflow', async () => {
    assert.equal(await cli('INCR', 'n'), '1\n');
    assert.equal(await cli('INCRBY', 'n', '41'), '42\n');
    assert.equal(await cli('DECR', 'n'), '41\n');
    assert.equal(await cli('DECRBY', 'n', '50'), '-9\n');
    assert.equal(await err('INCRBY', 'n', 'x'), 'ERR value is not an integer or out of range\n');
    await cli('SET', 'n2', '9223372036854775807');
    assert.equal(await err('INCR', 'n2'), 'ERR increment or decrement would overflow\n');
    await cli('SET', 'txt', 'abc');
    assert.equal(await err('INCR', 'txt'), 'ERR value is not an integer or out of range\n');
  });

  it('SCAN with MATCH and COUNT visits every key once; DBSIZE counts them', async () => {
    const keys = Array.from({ length: 120 }, (_, i) => `scan:${i}`);
    for (let i = 0; i < keys.length; i += 40)
      await runTool(
        'redis-cli',
        ['-h', respOf(A).host, '-p', String(respOf(A).port)],
        Buffer.from(
          keys
            .slice(i, i + 40)
            .map((k) => `SET ${k} v\n`)
            .join(''),
        ),
      );
    const r = await runTool('redis-cli', [
      '-h',
      respOf(A).host,
      '-p',
      String(respOf(A).port),
      '--scan',
      '--pattern',
      'scan:*',
    ]);
    assert.equal(r.stderr, '');
    const seen = r.stdout.trim().split('\n').sort();
    assert.deepEqual(seen, [...keys].sort());
    const dbsize = Number(await cli('DBSIZE'));
    assert.ok(dbsize >= 120, `DBSIZE ${dbsize}`);
    assert.equal(await err('SCAN', 'abc'), 'ERR invalid cursor\n');
    const page = (await cli('SCAN', '0', 'MATCH', 'scan:1*', 'COUNT', '1000')).split('\n');
    assert.ok(
      page.slice(1).every((k) => k === '' || k.startsWith('scan:1')),
      page.join(','),
    );
  });

  it('sizes every key for redis-cli --memkeys with MEMORY USAGE (key, value and the 20-byte record header)', async () => {
    await cli('SET', 'mem:big', 'x'.repeat(50000));
    assert.equal(await cli('MEMORY', 'USAGE', 'mem:big'), '50027\n');
    assert.equal(await cli('MEMORY', 'USAGE', 'mem:big', 'SAMPLES', '0'), '50027\n');
    assert.equal(await cli('MEMORY', 'USAGE', 'mem:none'), '\n');
    assert.equal(await err('MEMORY', 'USAGE', 'mem:big', 'SAMPLES', '-1'), 'ERR syntax error\n');
    assert.equal(await err('MEMORY', 'STATS'), "ERR unknown subcommand 'STATS'. Try MEMORY HELP.\n");
    const { host, port } = respOf(A);
    const r = await runTool('redis-cli', ['-h', host, '-p', String(port), '--memkeys']);
    assert.equal(r.code, 0, r.stderr);
    // Without MEMORY USAGE, redis-cli warned for every key and summed their sizes to 0 bytes.
    assert.doesNotMatch(r.stdout + r.stderr, /MEMORY USAGE on .* failed/);
    assert.match(r.stdout, /Biggest string found '"mem:big"' has 50027 bytes/);
    assert.doesNotMatch(r.stdout, / strings with 0 bytes/);
  });

  it("WAIT returns the number of replicas holding the connection's writes", async () => {
    const r = await runTool(
      'redis-cli',
      ['-h', respOf(A).host, '-p', String(respOf(A).port)],
      Buffer.from('SET w 1\nWAIT 1 5000\n'),
    );
    assert.equal(r.stdout, 'OK\n1\n');
  });

  it("WAIT at the replica's node is Redis's replica error; the master lists it as slave0 with its offset", async () => {
    const at = (address: string, input: string) =>
      runTool(
        'redis-cli',
        ['-h', respOf(address).host, '-p', String(respOf(address).port)],
        Buffer.from(input),
      );
    assert.equal((await at(A, 'SET w2 1\nWAIT 1 5000\n')).stdout, 'OK\n1\n');
    assert.match((await at(B, 'WAIT 0 0\n')).stdout, /^ERR WAIT cannot be used with replica instances\./);
    const info = (await at(A, 'INFO replication\n')).stdout;
    const offset = /master_repl_offset:(\d+)/.exec(info)?.[1];
    const line = new RegExp(
      `slave0:ip=127\\.0\\.0\\.1,port=${respOf(B).port},state=online,offset=(\\d+),lag=\\d+`,
    );
    assert.ok(Number(offset) > 0, info);
    assert.equal(line.exec(info)?.[1], offset, `the replica holds every write after WAIT: ${info}`);
    const shards = (await at(A, 'CLUSTER SHARDS\n')).stdout.split('\n');
    const offsets = shards.flatMap((l, i) => (l === 'replication-offset' ? [shards[i + 1]] : []));
    assert.deepEqual(offsets, [offset, offset], 'master and replica at the same offset');
  });

  it('CLUSTER KEYSLOT / MYID / INFO / SLOTS / SHARDS / NODES describe the config', async () => {
    assert.equal(await cli('CLUSTER', 'KEYSLOT', 'foo'), '12182\n');
    assert.match(await cli('CLUSTER', 'MYID'), /^[0-9a-f]{40}\n$/);
    assert.match(await cli('CLUSTER', 'INFO'), /cluster_state:ok/);
    const slots = (await cli('CLUSTER', 'SLOTS')).split('\n');
    assert.deepEqual(slots.slice(0, 4), ['0', '4095', '127.0.0.1', String(respOf(A).port)]);
    const nodes = await cli('CLUSTER', 'NODES');
    assert.match(
      nodes,
      // Config epoch 0: no shard has changed leader (the first map's epochs).
      new RegExp(`127\\.0\\.0\\.1:${respOf(A).port}@\\d+ myself,master - 0 0 0 connected 0-16383`),
    );
    assert.match(nodes, new RegExp(`127\\.0\\.0\\.1:${respOf(B).port}@\\d+ slave [0-9a-f]{40}`));
    assert.match(await cli('CLUSTER', 'SHARDS'), /slots\n0\n16383\nnodes\n/);
  });

  it('serves reads at the replica address after READONLY', async () => {
    // The replica holds the write once WAIT counts it (a fixed sleep lost the race under load).
    assert.deepEqual((await session(['SET ro x', 'WAIT 1 30000'])).lines, ['OK', '1']);
    const r = await runTool(
      'redis-cli',
      ['-h', respOf(B).host, '-p', String(respOf(B).port)],
      Buffer.from('READONLY\nGET ro\n'),
    );
    assert.equal(r.stdout, 'OK\nx\n');
  });
});

describe('redis-benchmark and ioredis against the RESP listener', () => {
  it('runs redis-benchmark -t set,get -n 20000 to completion', async () => {
    const { host, port } = respOf(A);
    const r = await runTool(
      'redis-benchmark',
      ['-h', host, '-p', String(port), '-t', 'set,get', '-n', '20000', '-q'],
      undefined,
      300000,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /SET: [\d.]+ requests per second/);
    assert.match(r.stdout, /GET: [\d.]+ requests per second/);
  });

  it('answers a pipeline of 3,000 random commands on 8 keys in order, each reply as a model predicts', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const redis = new Redis({ host: respOf(A).host, port: respOf(A).port, lazyConnect: true });
    await redis.connect();
    try {
      const model = new Map<string, string>();
      const expected: unknown[] = [];
      const pipe = redis.pipeline();
      for (let i = 0; i < 3000; i++) {
        const k = `pipe-model:${Math.floor(rnd() * 8)}`;
        const pick = rnd();
        if (pick < 0.3) {
          const v = String(Math.floor(rnd() * 100));
          pipe.set(k, v);
          model.set(k, v);
          expected.push('OK');
        } else if (pick < 0.55) {
          pipe.get(k);
          expected.push(model.get(k) ?? null);
        } else if (pick < 0.75) {
          const cur = model.get(k) ?? '0';
          if (/^-?\d+$/.test(cur)) {
            pipe.incr(k);
            model.set(k, String(Number(cur) + 1));
            expected.push(Number(cur) + 1);
          } else {
            pipe.exists(k);
            expected.push(1);
          }
        } else if (pick < 0.85) {
          pipe.del(k);
          expected.push(model.delete(k) ? 1 : 0);
        } else {
          const v = `s${i}`;
          pipe.set(k, v, 'NX');
          expected.push(model.has(k) ? null : 'OK');
          if (!model.has(k)) model.set(k, v);
        }
      }
      const replies = (await pipe.exec()) ?? [];
      replies.forEach(([err, value], i) => {
        assert.equal(err, null, `seed ${seed} command ${i}`);
        assert.deepEqual(value, expected[i], `seed ${seed} command ${i}`);
      });
    } finally {
      redis.disconnect();
    }
  });

  it('shares binary values with the HTTP API both ways', async () => {
    const redis = new Redis({ host: respOf(A).host, port: respOf(A).port, lazyConnect: true });
    await redis.connect();
    try {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await redis.set('bin:resp', bytes);
      const viaHttp = Buffer.from(await (await fetch(`http://${A}/kv/bin:resp`)).arrayBuffer());
      assert.deepEqual(viaHttp, bytes);
      const put = await fetch(`http://${A}/kv/bin:http`, { method: 'PUT', body: bytes.reverse() });
      assert.equal(put.status, 204);
      assert.deepEqual(await redis.getBuffer('bin:http'), bytes);
      // Pipelined: a GET right behind a SET of the same key sees it.
      const replies = await redis
        .pipeline()
        .set('pipe', 'v1')
        .get('pipe')
        .set('pipe', 'v2')
        .get('pipe')
        .exec();
      assert.deepEqual(
        replies?.map(([, v]) => v),
        ['OK', 'v1', 'OK', 'v2'],
      );
    } finally {
      redis.disconnect();
    }
  });

  it('shares keys that are not UTF-8 with the HTTP API both ways (raw bytes over RESP, percent-encoded over HTTP)', async () => {
    const redis = new Redis({ host: respOf(A).host, port: respOf(A).port, lazyConnect: true });
    await redis.connect();
    const pct = (b: Buffer): string => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');
    try {
      const viaResp = Buffer.from([0x6b, 0xff, 0x00, 0xfe, 0x80]);
      assert.equal(await redis.set(viaResp, 'set over RESP'), 'OK');
      const get = await fetch(`http://${A}/kv/${pct(viaResp)}`);
      assert.equal(get.status, 200);
      assert.equal(await get.text(), 'set over RESP');
      const viaHttp = Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0x01]);
      const put = await fetch(`http://${A}/kv/${pct(viaHttp)}`, { method: 'PUT', body: 'set over HTTP' });
      assert.equal(put.status, 204);
      assert.equal((await redis.getBuffer(viaHttp))?.toString(), 'set over HTTP');
      // SCAN hands the keys back as the same bytes.
      const keys: Buffer[] = [];
      let cursor = '0';
      do {
        const [next, page] = await redis.scanBuffer(cursor, 'COUNT', 1000);
        cursor = next.toString();
        keys.push(...page);
      } while (cursor !== '0');
      assert.ok(keys.some((k) => k.equals(viaResp)));
      assert.ok(keys.some((k) => k.equals(viaHttp)));
      assert.equal(await redis.del(viaResp), 1);
      assert.equal((await fetch(`http://${A}/kv/${pct(viaResp)}`)).status, 404);
    } finally {
      redis.disconnect();
    }
  });
});
