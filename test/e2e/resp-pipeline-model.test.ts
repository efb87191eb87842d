/**
 * A connection's commands take effect in the order sent, for the keyspace reads too: seeded random
 * pipelines of writes (SET, SET NX/XX, DEL, INCR, APPEND) and reads (GET, EXISTS, STRLEN) on keys of
 * both stores of a node, with SCAN and KEYS among them, each reply checked against a Map. The
 * bytes are written in pieces cut at random points (in the middle of a command too). SCAN and KEYS
 * read outside the op batches once the replies before them are complete; before they held the
 * commands after them, a DEL pipelined after a KEYS was applied before KEYS read and the key was
 * missing from its answer (a SET after SCAN showed up in it). DBSIZE is not modelled: it answers the
 * stores' key estimate, which counts deleted and rewritten keys until compaction.
 * A failure names its seed: rerun with DISTKV_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { seededRandom, testSeed } from '../helpers/random.js';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { startOwnServer } from '../helpers/server-process.js';
import { encode, splitReplies, Wire } from './resp-wire.js';

let A = '';
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  A = await freeNodeAddress();
  // Two stores on two workers: one SCAN reads the first, then the second.
  ({ stop } = await startOwnServer(
    [
      { address: A, slots: '0-8191' },
      { address: A, slots: '8192-16383' },
    ],
    '',
    ['--workers', '2', '--durability', 'none'],
  ));
});

after(() => stop());

const NOT_INTEGER = '-ERR value is not an integer or out of range\r\n';
const bulk = (v: string | undefined): string => (v === undefined ? '$-1\r\n' : `$${v.length}\r\n${v}\r\n`);
const int = (n: number): string => `:${n}\r\n`;
const keyList = (keys: Iterable<string>): string[] => [...keys].sort();

/** bulks reads the bulk strings of an array reply (`*n` then n bulks), sorted. */
function bulks(reply: string, from = 0): string[] | undefined {
  const lines = reply.slice(from).split('\r\n');
  const m = /^\*(\d+)$/.exec(lines[0] ?? '');
  if (m === null) return undefined;
  const out: string[] = [];
  for (let i = 0; i < Number(m[1]); i++) out.push(lines[2 + 2 * i] ?? '');
  return out.sort();
}

/** Step is one command and the reply the model expects (a string, or a test for unordered lists). */
interface Step {
  args: string[];
  expect: string | ((reply: string) => boolean);
  what: string;
}

/** modelRun builds `n` random commands on `keys`, applying each to the model as it goes. */
function modelRun(rnd: () => number, keys: string[], prefix: string, n: number): Step[] {
  const model = new Map<string, string>();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const value = (): string =>
    rnd() < 0.5
      ? String(Math.floor(rnd() * 2000) - 1000)
      : 'v'.repeat(Math.floor(rnd() * 3)) + Math.floor(rnd() * 1e6).toString(36);
  const steps: Step[] = [];
  for (let i = 0; i < n; i++) {
    const k = pick(keys);
    const had = model.get(k);
    const r = Math.floor(rnd() * 12);
    if (r <= 2) {
      const v = value();
      const cond = pick(['', '', 'NX', 'XX']);
      const applies = cond === '' || (cond === 'NX') === (had === undefined);
      if (applies) model.set(k, v);
      steps.push({
        args: ['SET', k, v, ...(cond === '' ? [] : [cond])],
        expect: applies ? '+OK\r\n' : '$-1\r\n',
        what: 'SET',
      });
    } else if (r === 3) {
      model.delete(k);
      steps.push({ args: ['DEL', k], expect: int(had === undefined ? 0 : 1), what: 'DEL' });
    } else if (r === 4) {
      const n0 = had === undefined ? 0 : /^(0|-?[1-9]\d*)$/.test(had) ? Number(had) : undefined;
      if (n0 !== undefined) model.set(k, String(n0 + 1));
      steps.push({ args: ['INCR', k], expect: n0 === undefined ? NOT_INTEGER : int(n0 + 1), what: 'INCR' });
    } else if (r === 5) {
      const v = value();
      model.set(k, (had ?? '') + v);
      steps.push({ args: ['APPEND', k, v], expect: int(model.get(k)!.length), what: 'APPEND' });
    } else if (r <= 7) steps.push({ args: ['GET', k], expect: bulk(had), what: 'GET' });
    else if (r === 8)
      steps.push({ args: ['EXISTS', k], expect: int(had === undefined ? 0 : 1), what: 'EXISTS' });
    else if (r === 9) steps.push({ args: ['STRLEN', k], expect: int(had?.length ?? 0), what: 'STRLEN' });
    else if (r === 10) {
      const want = keyList(model.keys());
      steps.push({
        args: ['KEYS', `${prefix}*`],
        expect: (reply) => JSON.stringify(bulks(reply)) === JSON.stringify(want),
        what: `KEYS (want ${want.length} keys)`,
      });
    } else {
      // A SCAN of COUNT 100000 reads both stores (slots 0-8191, then the rest) whole, in one call
      // ending with the cursor 0, as Redis scans a small database.
      const want = keyList(model.keys());
      steps.push({
        args: ['SCAN', '0', 'MATCH', `${prefix}*`, 'COUNT', '100000'],
        expect: (reply) =>
          reply.startsWith('*2\r\n$1\r\n0\r\n') &&
          JSON.stringify(bulks(reply, reply.indexOf('*', 1))) === JSON.stringify(want),
        what: `SCAN (want ${want.length} keys of both stores, cursor 0)`,
      });
    }
  }
  return steps;
}

/** runPipelined writes every step's bytes in pieces cut at random points and returns the replies. */
async function runPipelined(rnd: () => number, steps: Step[]): Promise<string[]> {
  const w = await Wire.open(respOf(A));
  try {
    const bytes = Buffer.concat(steps.map((s) => encode(s.args)));
    for (let at = 0; at < bytes.length;) {
      const n = 1 + Math.floor(rnd() * (rnd() < 0.2 ? 16 : 4096));
      w.socket.write(bytes.subarray(at, at + n));
      at += n;
      if (rnd() < 0.1) await new Promise((r) => setTimeout(r, 1));
    }
    return splitReplies(await w.replies(steps.length));
  } finally {
    w.close();
  }
}

describe('a pipelined connection against a model', () => {
  for (let round = 0; round < 4; round++) {
    it(`answers SCAN and KEYS in command order among writes (round ${round})`, async () => {
      const seed = testSeed() + round;
      const rnd = seededRandom(seed);
      // Each round has its own keys (KEYS and SCAN match its prefix only).
      const prefix = `r${round}:`;
      const keys = Array.from({ length: 10 }, (_, i) => `${prefix}${i}`);
      const steps = modelRun(rnd, keys, prefix, 400);
      const replies = await runPipelined(rnd, steps);
      try {
        assert.equal(
          replies.length,
          steps.length,
          `seed ${seed}: ${replies.length} replies to ${steps.length}`,
        );
        steps.forEach((s, i) => {
          const got = replies[i]!;
          const ok = typeof s.expect === 'string' ? got === s.expect : s.expect(got);
          if (!ok) {
            const earlier = steps
              .slice(Math.max(0, i - 8), i)
              .map((e) => e.args.join(' '))
              .join(' | ');
            assert.fail(
              `seed ${seed}: step ${i} ${s.args.join(' ')} (${s.what}) answered ${JSON.stringify(got).slice(0, 400)}` +
                `${typeof s.expect === 'string' ? `, model ${JSON.stringify(s.expect)}` : ''}; before it: ${earlier}`,
            );
          }
        });
      } finally {
        await runPipelined(
          rnd,
          keys.map((k) => ({ args: ['DEL', k], expect: '', what: 'DEL' })),
        );
      }
    });
  }
});
