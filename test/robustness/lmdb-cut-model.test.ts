/**
 * Randomized model test of LMDB data files cut short (src/storage/lmdb-file-check.ts): a seeded
 * history of transactions of puts and deletes, with value sizes spanning 0 to 100 KB and the
 * overflow boundary (~2 KiB with 4 KiB pages), on the bottom level (LmdbLevel, overlappingSync) or
 * on the lmdb engine (LmdbStore, one transaction per event-loop turn, so a big value can be
 * written and overwritten or deleted in one commit). Its data file is then cut at random page
 * boundaries (and once mid-page), the tail favoured, and each cut store (and the whole one) opened in a child process
 * (a crash must not end the test runner) and read whole: every cut is refused at open with a
 * CorruptionError, or opens and reads back exactly the model (every key's value, and no other
 * key). A crash, a wrong value or a missing key fails the test with its seed; replay with
 * DISTKV_SEED, and DISTKV_ROBUSTNESS=full runs more histories.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LmdbLevel } from '../../src/storage/lmdb-level.js';
import { LmdbStore } from '../../src/storage/lmdb-store.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { tempDir } from '../helpers/temp-dir.js';

const FULL = process.env.DISTKV_ROBUSTNESS === 'full';
const HISTORIES = FULL ? 40 : 4;
const CUTS = FULL ? 60 : 16;
const KEYS = 48;
/** SIZES are the value sizes drawn half the time: the ends and both sides of the overflow boundary. */
const SIZES = [0, 1, 100, 1990, 2000, 2010, 2030, 2050, 2100, 4076, 4096, 8172, 9000, 70_000, 100_000];

/** Engine is what writes the store: the LSM store's bottom level, or the lmdb engine. */
type Engine = 'level' | 'store';

/** Model is each key's value as (size, fill byte): the value is `size` bytes of `fill`. */
type Model = Record<string, [number, number]>;

function valueOf([size, fill]: [number, number]): Buffer {
  return Buffer.alloc(size, fill);
}

/** writeHistory writes a seeded history of transactions into a fresh store at `dir`, closes it and returns the model of its contents. */
async function writeHistory(dir: string, engine: Engine, rnd: () => number): Promise<Model> {
  const model: Model = {};
  const level = engine === 'level' ? new LmdbLevel(dir) : undefined;
  const store =
    engine === 'store' ? new LmdbStore({ dir, durability: 'fsync', fsyncIntervalMs: 20 }) : undefined;
  let seq = 0;
  const transactions = 6 + Math.floor(rnd() * 20);
  for (let t = 0; t < transactions; t++) {
    const ops: { key: string; value: [number, number] | null }[] = [];
    const count = 1 + Math.floor(rnd() * (rnd() < 0.3 ? 60 : 6));
    for (let i = 0; i < count; i++) {
      const key = `k${Math.floor(rnd() * KEYS)}`;
      const size = rnd() < 0.5 ? SIZES[Math.floor(rnd() * SIZES.length)]! : Math.floor(rnd() ** 3 * 100_000);
      ops.push({ key, value: rnd() < 0.2 ? null : [size, (seq + i + 1) % 256] });
    }
    if (level !== undefined) {
      await level.apply(
        ops.map((o) => ({
          key: Buffer.from(o.key),
          value: o.value === null ? null : valueOf(o.value),
          seq: ++seq,
        })),
        seq,
      );
    } else if (store !== undefined) {
      // Issued in one event-loop turn: one LMDB transaction.
      await Promise.all(
        ops.map((o) =>
          o.value === null
            ? store.delete(Buffer.from(o.key))
            : store.put(Buffer.from(o.key), valueOf(o.value)),
        ),
      );
    }
    for (const o of ops)
      if (o.value === null) Reflect.deleteProperty(model, o.key);
      else model[o.key] = o.value;
  }
  await level?.close();
  await store?.close();
  return model;
}

/**
 * CUT_OPEN_READ, run in a child process: argv = the whole store, a scratch directory, the engine,
 * the module URLs of LmdbLevel and LmdbStore, the model's path, the cuts (bytes, comma-separated).
 * For each cut it copies the store, cuts its data file, opens it and reads every key and the whole
 * range, and prints `refused`, `ok`, or `wrong <what>`, one line per cut, before the next.
 */
const CUT_OPEN_READ = `
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const [whole, scratch, engine, levelUrl, storeUrl, modelPath, cutList] = process.argv.slice(1);
const { LmdbLevel } = await import(levelUrl);
const { LmdbStore } = await import(storeUrl);
const model = JSON.parse(readFileSync(modelPath, 'utf8'));
const fileOf = (dir) => (engine === 'level' ? join(dir, 'lmdb', 'data.mdb') : join(dir, 'data.mdb'));
const bytes = readFileSync(fileOf(whole));
for (const cut of cutList.split(',').map(Number)) {
  rmSync(scratch, { recursive: true, force: true });
  cpSync(whole, scratch, { recursive: true });
  writeFileSync(fileOf(scratch), bytes.subarray(0, cut));
  process.stdout.write('cut ' + cut + ' ');
  let s;
  try {
    s = engine === 'level' ? new LmdbLevel(scratch) : new LmdbStore({ dir: scratch, durability: 'fsync', fsyncIntervalMs: 20 });
  } catch (err) {
    process.stdout.write(err.name === 'CorruptionError' ? 'refused\\n' : 'wrong open ' + err.message + '\\n');
    continue;
  }
  const wrong = [];
  try {
    const get = (k) => (engine === 'level' ? s.get(Buffer.from(k))?.value : s.get(Buffer.from(k)));
    for (let i = 0; i < ${KEYS}; i++) {
      const key = 'k' + i;
      const want = model[key];
      const got = get(key);
      if (want === undefined ? got !== undefined : got === undefined || got.length !== want[0] || got.some((b) => b !== want[1]))
        wrong.push(key + ' reads ' + (got === undefined ? 'missing' : got.length + ' bytes'));
    }
    const listed = engine === 'level'
      ? [...s.entries(Buffer.alloc(0), undefined, false)].map((e) => e.key.toString())
      : s.scan(Buffer.alloc(0), undefined, 1000).map((e) => Buffer.from(e.key).toString());
    if (listed.sort().join() !== Object.keys(model).sort().join()) wrong.push('lists ' + listed.join(' '));
  } catch (err) {
    wrong.push('read failed: ' + err.message);
  }
  await s.close();
  process.stdout.write(wrong.length === 0 ? 'ok\\n' : 'wrong ' + wrong.join('; ') + '\\n');
}
`;

/** cutsOf picks the cuts of a file of `size` bytes: page boundaries, half of them in its last 40 pages, one mid-page, and last the whole file. */
function cutsOf(size: number, rnd: () => number): number[] {
  const pages = Math.floor(size / 4096);
  const cuts = new Set<number>();
  for (let i = 0; i < CUTS; i++) {
    const page =
      i % 2 === 0 ? 2 + Math.floor(rnd() * (pages - 2)) : Math.max(2, pages - 1 - Math.floor(rnd() * 40));
    cuts.add(page * 4096);
  }
  cuts.add(Math.max(2 * 4096, size - 1 - Math.floor(rnd() * 4096 * 4)));
  return [...[...cuts].filter((c) => c < size).sort((a, b) => a - b), size];
}

describe('LMDB data files cut at random places (model)', () => {
  it('refuses each cut at open, or opens it and reads back exactly what was written', async () => {
    const seed = testSeed();
    const levelUrl = new URL('../../src/storage/lmdb-level.js', import.meta.url).href;
    const storeUrl = new URL('../../src/storage/lmdb-store.js', import.meta.url).href;
    const outcomes = { ok: 0, refused: 0 };
    for (let h = 0; h < HISTORIES; h++) {
      const rnd = seededRandom(seed + h);
      const engine: Engine = h % 2 === 0 ? 'level' : 'store';
      const root = tempDir(after);
      const whole = join(root, 'whole');
      const model = await writeHistory(whole, engine, rnd);
      const file = engine === 'level' ? join(whole, 'lmdb', 'data.mdb') : join(whole, 'data.mdb');
      const modelPath = join(root, 'model.json');
      writeFileSync(modelPath, JSON.stringify(model));
      const cuts = cutsOf(statSync(file).size, rnd);
      const args = [whole, join(root, 'cut'), engine, levelUrl, storeUrl, modelPath, cuts.join(',')];
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', CUT_OPEN_READ, ...args], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      const lines = child.stdout.trim().split('\n');
      const where = `seed ${seed + h} (DISTKV_SEED=${seed} replays the run), ${engine}, file of ${statSync(file).size} bytes`;
      assert.ok(
        child.status === 0 && lines.length === cuts.length,
        `${where}: exit ${child.status} signal ${child.signal} after ${lines[lines.length - 1]} ${child.stderr}`,
      );
      assert.match(lines[lines.length - 1]!, / ok$/, `${where}: the whole file opens and reads back`);
      for (const line of lines) {
        assert.match(line, / (ok|refused)$/, `${where}: ${line}`);
        outcomes[line.endsWith('ok') ? 'ok' : 'refused']++;
      }
    }
    assert.ok(outcomes.refused > 0, `some cut is refused (${JSON.stringify(outcomes)}, seed ${seed})`);
  });
});
