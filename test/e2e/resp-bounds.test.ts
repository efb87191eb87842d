/**
 * What one RESP command can make a node hold (docs/resp.md, "What one command can make the node
 * hold"): MGET, EXISTS and DEL of many keys of large values, an MSET of more bytes than a command
 * may take, a command announced and never sent, SCAN with a huge COUNT, a bulk length near Redis's
 * 512 MB. Each is answered (or refused with an error) while the node's resident memory stays
 * within a bound, sampled from /proc every 20 ms. One process, 1 MiB values, a 96 MiB budget of
 * unsent bytes (more than a command may take, 66 MiB).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { freeNodeAddress, redisCli, respOf } from '../helpers/resp.js';
import { startOwnServer } from '../helpers/server-process.js';
import { encode, Wire } from './resp-wire.js';

const MIB = 1024 * 1024;
const BUDGET = 96 * MIB;
const big = Buffer.alloc(MIB, 0x62);
let A = '';
let pid = 0;
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  A = await freeNodeAddress();
  const own = await startOwnServer(
    [{ address: A, replicas: [] }],
    `[server]\nmax_value_bytes = ${MIB}\nmax_unsent_bytes = ${BUDGET}\n`,
    ['--workers', '1'],
  );
  stop = own.stop;
  pid = own.server.child.pid ?? 0;
  const w = await Wire.open(respOf(A));
  try {
    w.socket.write(encode(['SET', '{b}big', big]));
    assert.equal(await w.replies(1), '+OK\r\n');
  } finally {
    w.close();
  }
});

after(() => stop());

/** rss is the node's resident memory now, in bytes. */
function rss(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m);
  return Number(m[1]) * 1024;
}

/** peakGrowth runs `f` while sampling the node's RSS every 20 ms; returns f's result and the most RSS grew above its start. */
async function peakGrowth<T>(f: () => Promise<T>): Promise<{ result: T; grew: number }> {
  const start = rss();
  let most = 0;
  const timer = setInterval(() => {
    most = Math.max(most, rss() - start);
  }, 20);
  try {
    const result = await f();
    most = Math.max(most, rss() - start);
    return { result, grew: most };
  } finally {
    clearInterval(timer);
  }
}

/**
 * send writes `commands` on a fresh connection and returns the text of `n` replies. With `closes`
 * set, it also waits (up to `ms`) for the server to close the connection after them, and says
 * whether it did: the close comes about 20 ms after the reply on a quiet machine, but a node late
 * by 300 ms on a loaded one failed a bound of 200 ms.
 */
async function send(
  commands: Buffer[],
  n: number,
  ms = 60000,
  closes = false,
): Promise<{ text: string; closed: boolean }> {
  const w = await Wire.open(respOf(A));
  try {
    for (const c of commands) w.socket.write(c);
    const text = await w.replies(n, ms);
    return { text, closed: closes ? await w.closedWithin(ms) : w.closed };
  } finally {
    w.close();
  }
}

const repeat = (name: string, key: string, n: number): Buffer =>
  encode([name, ...Array.from({ length: n }, () => key)]);

describe('RESP multi-key commands over large values', () => {
  it('refuses an MGET whose values pass the budget (1000 x 1 MiB) with an error, building about one round of them', async () => {
    const { result, grew } = await peakGrowth(() =>
      send([repeat('MGET', '{b}big', 1000), encode(['PING'])], 2),
    );
    assert.equal(
      result.text,
      `-ERR reply of more than ${BUDGET / 2} bytes (server.max_unsent_bytes, at most ${512 * MIB}); ask for fewer keys\r\n+PONG\r\n`,
    );
    assert.ok(grew < 400 * MIB, `the node grew by ${Math.round(grew / MIB)} MiB`);
  });

  it('answers an MGET within the budget (40 x 1 MiB) whole', async () => {
    const { text } = await send([repeat('MGET', '{b}big', 40)], 1);
    assert.equal(text, `*40\r\n${`$${MIB}\r\n${big.toString('latin1')}\r\n`.repeat(40)}`);
  });

  it('answers EXISTS and DEL of 1000 large keys without keeping their values', async () => {
    const { result, grew } = await peakGrowth(() => send([repeat('EXISTS', '{b}big', 1000)], 1));
    assert.equal(result.text, ':1000\r\n');
    assert.ok(grew < 400 * MIB, `the node grew by ${Math.round(grew / MIB)} MiB`);
    const w = await Wire.open(respOf(A));
    try {
      w.socket.write(encode(['SET', '{b}gone', big]));
      w.socket.write(encode(['DEL', ...Array.from({ length: 1000 }, () => '{b}gone')]));
      assert.equal(await w.replies(2), '+OK\r\n:1\r\n');
    } finally {
      w.close();
    }
  });

  it('keeps the order of the keys over several rounds, and runs a later command on one of them after the MGET', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => `{r}k${i}`);
    const sets = keys.filter((_, i) => i % 3 !== 0).map((k) => encode(['SET', k, `v-${k}`]));
    const { text } = await send(
      [...sets, encode(['MGET', ...keys]), encode(['SET', keys[299]!, 'after']), encode(['GET', keys[299]!])],
      sets.length + 3,
    );
    const expected = keys.map((k, i) => (i % 3 === 0 ? '$-1\r\n' : `$${`v-${k}`.length}\r\nv-${k}\r\n`));
    assert.equal(text, `${'+OK\r\n'.repeat(sets.length)}*300\r\n${expected.join('')}+OK\r\n$5\r\nafter\r\n`);
  });
});

describe('RESP commands announced larger than a command may be', () => {
  it('refuses an MSET of 100 values of 1 MiB once the lengths read pass the bound, before their bytes arrive', async () => {
    const head = Buffer.from('*201\r\n$4\r\nMSET\r\n');
    const pairs: Buffer[] = [];
    for (let i = 0; i < 70; i++) pairs.push(encode([`{m}${i}`, big]).subarray(4));
    const { text, closed } = await send([head, ...pairs], 1, 30000, true);
    assert.match(text, /^-ERR Protocol error: command of more than \d+ bytes\r\n$/);
    assert.equal(closed, true);
  });

  it('holds nothing for an array of a million arguments announced and never sent, nor for ten million', async () => {
    const { result, grew } = await peakGrowth(async () => {
      const w = await Wire.open(respOf(A));
      try {
        w.socket.write('*1000000\r\n$4\r\nMGET\r\n');
        await new Promise((r) => setTimeout(r, 500));
        return await send([encode(['PING']), Buffer.from('*10000000\r\n')], 2);
      } finally {
        w.close();
      }
    });
    assert.equal(result.text, '+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n');
    assert.ok(grew < 64 * MIB, `the node grew by ${Math.round(grew / MIB)} MiB`);
  });

  it("refuses a bulk of 512 MB (Redis's proto-max-bulk-len) as an invalid bulk length when values are 1 MiB", async () => {
    const { text, closed } = await send(
      [Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n')],
      1,
      30000,
      true,
    );
    assert.equal(text, '-ERR Protocol error: invalid bulk length\r\n');
    assert.equal(closed, true);
  });

  it('closes the clients whose incomplete commands pass the unsent budget together', async () => {
    const clients = await Promise.all([0, 1, 2].map(() => Wire.open(respOf(A))));
    try {
      for (const w of clients) {
        w.socket.write('*201\r\n$4\r\nMSET\r\n');
        for (let i = 0; i < 40; i++) w.socket.write(encode([`{m}${i}`, big]).subarray(4));
      }
      const deadline = Date.now() + 20000;
      while (clients.filter((w) => w.closed).length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      assert.ok(
        clients.filter((w) => w.closed).length >= 1,
        'a client holding 40 MiB of a command is closed',
      );
      assert.match(await redisCli(A, ['INFO', 'stats']), /evicted_clients:[1-9]/);
    } finally {
      for (const w of clients) w.close();
    }
  });
});

describe('RESP SCAN with a huge COUNT', () => {
  it('answers SCAN COUNT 10^12 (redis-cli) with one page of the 201 keys (COUNT is capped at 100000, a page at 4 MiB)', async () => {
    const out = await redisCli(A, ['SCAN', '0', 'COUNT', '1000000000000']);
    const lines = out.trim().split('\n');
    assert.equal(lines[0], '0', out);
    assert.equal(lines.length, 202, out);
    assert.ok(lines.includes('{b}big'), out);
  });
});
