/**
 * A seeded model test of the client library at the size limits: random put, delete, get, batch and
 * scan calls on keys of 1..max_key_bytes bytes (ASCII, 2- and 4-byte characters, hash tags, one byte
 * over the limit, empty) with values of 0..max_value_bytes bytes (every boundary, one byte over),
 * against a Map. A call the node must refuse (INVALID_KEY, MISSING_KEY, VALUE_TOO_LARGE; in a batch,
 * that operation alone) must change nothing; every read, and a full scan
 * every few steps (several page sizes), must give the model's values byte for byte. Two processes,
 * two shards each way, so keys route and scans merge across nodes. DISTKV_SEED replays a run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { TestCluster } from '../helpers/cluster.js';
import { freeNodeAddress } from '../helpers/resp.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { tempDir } from '../helpers/temp-dir.js';

const OPS = 300;
const MAX_KEY = 1024;
const MAX_VALUE = 8192;

let cluster: TestCluster;
let client: DistkvClient;

before(async () => {
  const [a, b] = [await freeNodeAddress(), await freeNodeAddress()];
  cluster = await TestCluster.start({
    dir,
    shards: [{ address: a }, { address: b }, { address: a }, { address: b }],
    extraToml: `[server]\nmax_value_bytes = ${MAX_VALUE}\n`,
    args: ['--durability', 'none'],
  });
  client = new DistkvClient({ urls: [a, b] });
});

after(async () => {
  await client.close();
  await cluster.stop();
});

// Created here, not in before(): see resp-failover.test.ts.
const dir = tempDir(after);

/** keyOf builds a key of exactly `bytes` UTF-8 bytes from `unit` (1, 2 or 4 bytes), padded with ASCII. */
function keyOf(tag: string, unit: string, bytes: number): string {
  const u = Buffer.byteLength(unit);
  const body = unit.repeat(Math.max(0, Math.floor((bytes - tag.length) / u)));
  return `${tag}${body}${'z'.repeat(Math.max(0, bytes - tag.length - Buffer.byteLength(body)))}`;
}

/** valueOf is `size` bytes that differ from step to step (every byte value appears). */
function valueOf(size: number, step: number): Buffer {
  const v = Buffer.alloc(size);
  for (let i = 0; i < size; i++) v[i] = (i * 31 + step) & 0xff;
  return v;
}

describe('the client library against a model, at the size limits', () => {
  it('keeps every key and value the model holds, and refuses what is over a limit without a change', async () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const units = ['k', 'é', '😀'];
    const keySizes = [1, 2, 3, 4, 100, MAX_KEY - 1, MAX_KEY, MAX_KEY + 1];
    // A small pool of valid keys (so writes hit the same keys again), plus keys over the limit.
    const valid: string[] = [];
    for (const size of keySizes.filter((n) => n <= MAX_KEY))
      for (const unit of units) valid.push(keyOf(size > 8 ? `{t${valid.length % 3}}` : '', unit, size));
    const unique = [...new Set(valid)];
    const over = units.map((u) => keyOf('', u, MAX_KEY + 1));
    const valueSizes = [0, 1, 2, 255, 256, 4096, MAX_VALUE - 1, MAX_VALUE, MAX_VALUE + 1];
    const model = new Map<string, Buffer>();
    const log: string[] = [];
    const refusedWith = async (what: Promise<unknown>, codes: string[]): Promise<void> => {
      const err = await what.then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof DistkvError, `expected a refusal (${codes.join('/')}), got ${String(err)}`);
      assert.ok(codes.includes(err.code), `expected ${codes.join('/')}, got ${err.code}: ${err.message}`);
    };
    const checkScan = async (): Promise<void> => {
      const got = new Map<string, Buffer>();
      for await (const i of client.scan('', { pageSize: pick([1, 3, 7, 100, 1000]) })) {
        assert.equal(got.has(i.key), false, `scan listed ${i.key.slice(0, 20)} twice`);
        got.set(i.key, i.value);
      }
      assert.deepEqual([...got.keys()].sort(), [...model.keys()].sort(), 'scan keys');
      for (const [k, v] of model) assert.ok(got.get(k)?.equals(v), `scan value of ${k.slice(0, 20)}`);
    };
    try {
      for (let step = 0; step < OPS; step++) {
        const r = rand();
        const key = rand() < 0.1 ? pick([...over, '']) : pick(unique);
        const size = pick(valueSizes);
        const keyOk = key !== '' && Buffer.byteLength(key) <= MAX_KEY;
        if (r < 0.45) {
          log.push(`put ${Buffer.byteLength(key)}B ${size}`);
          const value = valueOf(size, step);
          const put = client.put(key, value);
          if (!keyOk) await refusedWith(put, ['INVALID_KEY', 'MISSING_KEY']);
          else if (size > MAX_VALUE) await refusedWith(put, ['VALUE_TOO_LARGE']);
          else {
            await put;
            model.set(key, value);
          }
        } else if (r < 0.6) {
          log.push(`delete ${Buffer.byteLength(key)}B`);
          const del = client.delete(key);
          if (!keyOk) await refusedWith(del, ['INVALID_KEY', 'MISSING_KEY']);
          else {
            assert.equal(await del, model.has(key), 'delete says whether the key existed');
            model.delete(key);
          }
        } else if (r < 0.8) {
          log.push(`get ${Buffer.byteLength(key)}B`);
          const get = client.get(key);
          if (!keyOk) await refusedWith(get, ['INVALID_KEY', 'MISSING_KEY']);
          else {
            const v = await get;
            const want = model.get(key);
            assert.ok(
              want === undefined ? v === undefined : v?.equals(want) === true,
              `get of a ${Buffer.byteLength(key)}-byte key: ${v?.length} bytes, model ${want?.length}`,
            );
          }
        } else if (r < 0.95) {
          const ops = Array.from({ length: 1 + Math.floor(rand() * 5) }, (_, i) => {
            const k = rand() < 0.05 ? pick(over) : pick(unique);
            const n = rand() < 0.1 ? MAX_VALUE + 1 : pick(valueSizes.filter((s) => s <= MAX_VALUE));
            return rand() < 0.7
              ? { op: 'set' as const, key: k, value: valueOf(n, step * 8 + i) }
              : { op: 'delete' as const, key: k };
          });
          log.push(`batch ${ops.map((o) => `${o.op} ${Buffer.byteLength(o.key)}B`).join(',')}`);
          // An invalid operation gets its error in its place; the others are applied (docs/api.md).
          const results = await client.batch(ops);
          ops.forEach((o, i) => {
            const res = results[i]!;
            const tooBig = o.op === 'set' && o.value.length > MAX_VALUE;
            if (Buffer.byteLength(o.key) > MAX_KEY || tooBig) {
              assert.ok(!res.ok, `batch op ${i} over a limit was applied`);
              assert.equal(
                res.error.code,
                tooBig && Buffer.byteLength(o.key) <= MAX_KEY ? 'VALUE_TOO_LARGE' : 'INVALID_KEY',
              );
            } else {
              assert.ok(res.ok, `batch op ${i}: ${res.ok ? '' : res.error.message}`);
              if (o.op === 'set') model.set(o.key, o.value);
              else model.delete(o.key);
            }
          });
        } else {
          log.push('scan');
          await checkScan();
        }
      }
      await checkScan();
    } catch (err) {
      console.error(`client-model: DISTKV_SEED=${seed} failed at step ${log.length}; last ops:`);
      console.error(log.slice(-10).join('\n'));
      throw err;
    }
  });
});
