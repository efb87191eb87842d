/**
 * The new RESP string and key commands (docs/resp.md) against a model: seeded random pipelines of
 * new and old commands on a few keys of one slot, each reply checked against a Map of values and
 * whether each key has an expiry, with values of every size class up to max_value_bytes (so
 * results over the limit are refused as the model says); and concurrent clients on one key, which
 * must lose no update (APPEND, GETSET, INCRBYFLOAT) and let exactly one win (SETNX, MSETNX, GETDEL).
 * A failure names its seed: rerun with DISTKV_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { seededRandom, testSeed } from '../helpers/random.js';
import { respOf } from '../helpers/resp.js';
import { encode, exchange as exchangeAt, splitReplies, startRespPair, Wire } from './resp-wire.js';

let A = '';
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, stop } = await startRespPair());
});

after(() => stop());

const LIMIT = 1048576;
const NOT_INTEGER = '-ERR value is not an integer or out of range\r\n';
const NOT_FLOAT = '-ERR value is not a valid float\r\n';

const bulk = (v: Buffer | undefined): string =>
  v === undefined ? '$-1\r\n' : `$${v.length}\r\n${v.toString('latin1')}\r\n`;
const int = (n: number | bigint): string => `:${n}\r\n`;
// Redis's refusal of an APPEND or SETRANGE over proto-max-bulk-len (max_value_bytes here).
const tooBig = (): string => '-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n';

/** Entry is a key in the model: its value and whether it has an expiry (all expiries are far off). */
interface Entry {
  value: Buffer;
  ttl: boolean;
}

/** Expect is a reply the model predicts, or a test of it (TTLs: only their sign is known). */
type Expect = string | ((reply: string) => boolean);

const positive = (r: string): boolean => /^:[1-9]\d*\r\n$/.test(r);

/** getrangeModel is GETRANGE as Redis 7.0's t_string.c states it. */
function getrangeModel(v: Buffer, start: number, end: number): Buffer {
  if (start < 0 && end < 0 && start > end) return Buffer.alloc(0);
  const n = v.length;
  const s = Math.max(0, start < 0 ? n + start : start);
  const e = Math.min(n - 1, Math.max(0, end < 0 ? n + end : end));
  return s > e || n === 0 ? Buffer.alloc(0) : v.subarray(s, e + 1);
}

/** Step is one command and the reply the model expects. */
interface Step {
  args: (string | Buffer)[];
  expect: Expect;
}

/** modelRun builds `n` random commands on `keys`, applying each to `model` as it goes. */
function modelRun(rnd: () => number, keys: string[], n: number): Step[] {
  const model = new Map<string, Entry>();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const key = (): string => pick(keys);
  const value = (): Buffer => {
    const r = rnd();
    const len =
      r < 0.6
        ? Math.floor(rnd() * 9)
        : r < 0.85
          ? 9 + Math.floor(rnd() * 56)
          : r < 0.97
            ? 1024 + Math.floor(rnd() * 64512)
            : 200_000 + Math.floor(rnd() * 500_000);
    // Digits or letters that mean nothing to strtold (no e, x, inf, nan), so the model knows what INCR* make of them.
    const alphabet = rnd() < 0.5 ? '0123456789' : 'klm';
    const at = (): string => alphabet.charAt(Math.floor(rnd() * alphabet.length));
    return Buffer.from(Array.from({ length: len }, at).join(''), 'latin1');
  };
  const steps: Step[] = [];
  const get = (k: string): Entry | undefined => model.get(k);
  for (let i = 0; i < n; i++) {
    const k = key();
    const cur = get(k);
    const r = Math.floor(rnd() * 24);
    switch (r) {
      case 0: {
        const v = value();
        model.set(k, { value: v, ttl: false });
        steps.push({ args: ['SET', k, v], expect: '+OK\r\n' });
        break;
      }
      case 1: {
        const v = value();
        model.set(k, { value: v, ttl: true });
        steps.push({ args: [pick(['SETEX', 'PSETEX']), k, '1000000', v], expect: '+OK\r\n' });
        break;
      }
      case 2:
        steps.push({ args: ['GET', k], expect: bulk(cur?.value) });
        break;
      case 3: {
        const ks = [key(), key()];
        const count = ks.filter((x, j) => ks.indexOf(x) === j && model.has(x)).length;
        for (const x of ks) model.delete(x);
        steps.push({ args: [pick(['DEL', 'UNLINK']), ...ks], expect: int(count) });
        break;
      }
      case 4: {
        const ks = [key(), key(), key()];
        steps.push({
          args: [pick(['EXISTS', 'TOUCH']), ...ks],
          expect: int(ks.filter((x) => model.has(x)).length),
        });
        break;
      }
      case 5:
      case 6: {
        const v = value();
        const length = (cur?.value.length ?? 0) + v.length;
        if (length > LIMIT) steps.push({ args: ['APPEND', k, v], expect: tooBig() });
        else {
          model.set(k, { value: Buffer.concat([cur?.value ?? Buffer.alloc(0), v]), ttl: cur?.ttl ?? false });
          steps.push({ args: ['APPEND', k, v], expect: int(length) });
        }
        break;
      }
      case 7: {
        const v = rnd() < 0.1 ? Buffer.alloc(0) : value().subarray(0, 64);
        const at = rnd() < 0.05 ? LIMIT - v.length + Math.floor(rnd() * 2) : Math.floor(rnd() * 40);
        const old = cur?.value ?? Buffer.alloc(0);
        if (v.length === 0) steps.push({ args: ['SETRANGE', k, String(at), v], expect: int(old.length) });
        else if (at + v.length > LIMIT)
          steps.push({ args: ['SETRANGE', k, String(at), v], expect: tooBig() });
        else {
          const next = Buffer.alloc(Math.max(old.length, at + v.length));
          old.copy(next);
          v.copy(next, at);
          model.set(k, { value: next, ttl: cur?.ttl ?? false });
          steps.push({ args: ['SETRANGE', k, String(at), v], expect: int(next.length) });
        }
        break;
      }
      case 8: {
        const s = Math.floor(rnd() * 60) - 30;
        const e = Math.floor(rnd() * 60) - 30;
        const got = cur === undefined ? Buffer.alloc(0) : getrangeModel(cur.value, s, e);
        steps.push({ args: [pick(['GETRANGE', 'SUBSTR']), k, String(s), String(e)], expect: bulk(got) });
        break;
      }
      case 9: {
        const v = value();
        model.set(k, { value: v, ttl: false });
        steps.push({ args: ['GETSET', k, v], expect: bulk(cur?.value) });
        break;
      }
      case 10:
        model.delete(k);
        steps.push({ args: ['GETDEL', k], expect: bulk(cur?.value) });
        break;
      case 11: {
        const v = value();
        if (cur === undefined) model.set(k, { value: v, ttl: false });
        steps.push({ args: ['SETNX', k, v], expect: int(cur === undefined ? 1 : 0) });
        break;
      }
      case 12: {
        const pairs = [key(), value(), key(), value()] as const;
        const free = !model.has(pairs[0]) && !model.has(pairs[2]);
        if (free) {
          model.set(pairs[0], { value: pairs[1], ttl: false });
          model.set(pairs[2], { value: pairs[3], ttl: false });
        }
        steps.push({ args: ['MSETNX', ...pairs], expect: int(free ? 1 : 0) });
        break;
      }
      case 13: {
        const ks = [key(), key()];
        steps.push({
          args: ['MGET', ...ks],
          expect: `*2\r\n${ks.map((x) => bulk(model.get(x)?.value)).join('')}`,
        });
        break;
      }
      case 14: {
        const text = cur?.value.toString('latin1');
        // A signed 64-bit decimal, as Redis's string2ll reads it (19 digits pass 2^63 - 1 only sometimes).
        const parsed =
          text === undefined ? 0n : /^(0|-?[1-9]\d{0,18})$/.test(text) ? BigInt(text) : undefined;
        const n = parsed !== undefined && BigInt.asIntN(64, parsed) === parsed ? parsed : undefined;
        if (n === undefined) steps.push({ args: ['INCR', k], expect: NOT_INTEGER });
        else if (n === 2n ** 63n - 1n)
          break; // the overflow answer is not modelled
        else {
          model.set(k, { value: Buffer.from(String(n + 1n)), ttl: cur?.ttl ?? false });
          steps.push({ args: ['INCR', k], expect: int(n + 1n) });
        }
        break;
      }
      case 15: {
        const text = cur?.value.toString('latin1') ?? '0';
        const delta = pick(['1', '-3', '2.5', '-0.5', '10']);
        if (/[klm]/.test(text) || text === '')
          steps.push({ args: ['INCRBYFLOAT', k, delta], expect: NOT_FLOAT });
        else if (/^-?\d{1,14}(\.5)?$/.test(text)) {
          const next = Buffer.from(String(Number(text) + Number(delta)));
          model.set(k, { value: next, ttl: cur?.ttl ?? false });
          steps.push({ args: ['INCRBYFLOAT', k, delta], expect: bulk(next) });
        } else steps.push({ args: ['STRLEN', k], expect: int(cur?.value.length ?? 0) });
        break;
      }
      case 16:
      case 17:
        steps.push({
          args: [pick(['TTL', 'PTTL', 'EXPIRETIME', 'PEXPIRETIME']), k],
          expect: cur === undefined ? int(-2) : cur.ttl ? positive : int(-1),
        });
        break;
      case 18:
        if (cur !== undefined) cur.ttl = true;
        steps.push({
          args: [pick(['EXPIRE', 'PEXPIRE']), k, '1000000'],
          expect: int(cur === undefined ? 0 : 1),
        });
        break;
      case 19:
        steps.push({
          args: ['EXPIREAT', k, String(Math.floor(Date.now() / 1000) + 100_000)],
          expect: int(cur === undefined ? 0 : 1),
        });
        if (cur !== undefined) cur.ttl = true;
        break;
      case 20:
        steps.push({ args: ['PERSIST', k], expect: int(cur?.ttl === true ? 1 : 0) });
        if (cur !== undefined) cur.ttl = false;
        break;
      case 21: {
        const persist = rnd() < 0.5;
        steps.push({
          args: persist ? ['GETEX', k, 'PERSIST'] : ['GETEX', k, 'EX', '1000000'],
          expect: bulk(cur?.value),
        });
        if (cur !== undefined) cur.ttl = !persist;
        break;
      }
      case 22:
        steps.push({ args: ['STRLEN', k], expect: int(cur?.value.length ?? 0) });
        break;
      default: {
        const v = value();
        model.set(k, { value: v, ttl: true });
        steps.push({ args: ['SET', k, v, 'EX', '1000000'], expect: '+OK\r\n' });
      }
    }
  }
  return steps;
}

const show = (args: (string | Buffer)[]): string =>
  args
    .map((a) => (typeof a === 'string' ? a : a.length > 40 ? `<${a.length} bytes>` : a.toString('latin1')))
    .join(' ');

describe('the new RESP commands against a model', () => {
  it('answers random pipelines of new and old commands, values of every size up to the limit, as a Map model says', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const keys = Array.from({ length: 5 }, (_, i) => `{model${seed}}k${i}`);
    const steps = modelRun(rnd, keys, 400);
    for (let at = 0; at < steps.length;) {
      const chunk = steps.slice(at, at + 1 + Math.floor(rnd() * 30));
      const replies = splitReplies(
        await exchangeAt(
          respOf(A),
          chunk.map((s) => s.args),
        ),
      );
      chunk.forEach((s, i) => {
        const got = replies[i] ?? '<none>';
        const ok = typeof s.expect === 'string' ? got === s.expect : s.expect(got);
        assert.ok(
          ok,
          `seed ${seed}, step ${at + i}: ${show(s.args)} answered ${JSON.stringify(got.slice(0, 80))}, model ${typeof s.expect === 'string' ? JSON.stringify(s.expect.slice(0, 80)) : 'a positive time'}`,
        );
      });
      at += chunk.length;
    }
  });
});

/** pipelined sends `commands` on one connection, `depth` at a time, and returns every reply. */
async function pipelined(commands: string[][], depth: number): Promise<string[]> {
  const w = await Wire.open(respOf(A));
  try {
    const out: string[] = [];
    for (let i = 0; i < commands.length; i += depth) {
      const chunk = commands.slice(i, i + depth);
      const before = out.length;
      w.socket.write(Buffer.concat(chunk.map(encode)));
      out.splice(0, out.length, ...splitReplies(await w.replies(before + chunk.length)));
    }
    return out;
  } finally {
    w.close();
  }
}

const CLIENTS = 8;

describe('the atomic new commands under concurrent clients on one key', () => {
  it('APPEND from 8 clients loses no append', async () => {
    const per = 40;
    await Promise.all(
      Array.from({ length: CLIENTS }, (_, c) =>
        pipelined(
          Array.from({ length: per }, (_, j) => ['APPEND', 'conc:append', `<${c}.${j}>`]),
          10,
        ),
      ),
    );
    const [value] = splitReplies(await exchangeAt(respOf(A), [['GET', 'conc:append']]));
    for (let c = 0; c < CLIENTS; c++)
      for (let j = 0; j < per; j++) assert.equal(value!.split(`<${c}.${j}>`).length, 2, `<${c}.${j}> once`);
  });

  it('GETSET from 8 clients hands every value written to exactly one later GETSET (or leaves it last)', async () => {
    const per = 30;
    await exchangeAt(respOf(A), [['SET', 'conc:getset', 'start']]);
    const replies = await Promise.all(
      Array.from({ length: CLIENTS }, (_, c) =>
        pipelined(
          Array.from({ length: per }, (_, j) => ['GETSET', 'conc:getset', `${c}.${j}`]),
          5,
        ),
      ),
    );
    const olds = replies.flat().map((r) => r.split('\r\n')[1]!);
    const [last] = splitReplies(await exchangeAt(respOf(A), [['GET', 'conc:getset']]));
    const seen = [...olds, last!.split('\r\n')[1]!].sort();
    const written = [
      'start',
      ...Array.from({ length: CLIENTS * per }, (_, i) => `${Math.floor(i / per)}.${i % per}`),
    ].sort();
    assert.deepEqual(seen, written);
  });

  it('INCRBYFLOAT from 8 clients adds every increment', async () => {
    const per = 30;
    await Promise.all(
      Array.from({ length: CLIENTS }, () =>
        pipelined(
          Array.from({ length: per }, () => ['INCRBYFLOAT', 'conc:float', '0.5']),
          10,
        ),
      ),
    );
    assert.equal(await exchangeAt(respOf(A), [['GET', 'conc:float']]), `$3\r\n120\r\n`);
  });

  it('SETNX, MSETNX and GETDEL from 8 clients at once: exactly one wins each', async () => {
    await exchangeAt(respOf(A), [['SET', 'conc:getdel', 'prize']]);
    const replies = await Promise.all(
      Array.from({ length: CLIENTS }, (_, c) =>
        pipelined(
          [
            ['SETNX', 'conc:lock', `owner${c}`],
            ['MSETNX', '{conc}a', `owner${c}`, '{conc}b', `owner${c}`],
            ['GETDEL', 'conc:getdel'],
          ],
          3,
        ),
      ),
    );
    const wins = (i: number, won: string): number => replies.filter((r) => r[i] === won).length;
    assert.equal(wins(0, ':1\r\n'), 1);
    assert.equal(wins(1, ':1\r\n'), 1);
    assert.equal(wins(2, '$5\r\nprize\r\n'), 1);
    const winner = replies.findIndex((r) => r[1] === ':1\r\n');
    assert.equal(
      await exchangeAt(respOf(A), [['MGET', '{conc}a', '{conc}b']]),
      `*2\r\n$6\r\nowner${winner}\r\n$6\r\nowner${winner}\r\n`,
    );
  });
});
