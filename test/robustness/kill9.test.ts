/**
 * kill -9 under load: a `distkv serve` child takes concurrent PUTs and DELETEs over HTTP and is
 * killed with SIGKILL at a random moment; after each restart every acknowledged write must be
 * there with its latest value, and no value may appear that was never written. Tiny memtables
 * make flushes and compactions happen during the run. Each writer owns its keys and writes them
 * one at a time, so acknowledgements of one key are ordered. The SHARDS stores run on one worker
 * and so share its commit log (one fdatasync per turn for all of them). After every other kill,
 * garbage (random bytes, or zeros) is appended to the newest segment of that log, as a disk that
 * wrote part of a request leaves it: recovery must cut it as a torn tail by itself. Each restart also
 * takes over the data directory lock the killed process left behind.
 * npm test runs 3 rounds; DISTKV_ROBUSTNESS=full (npm run test:robustness) runs 20.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CrashModel } from '../helpers/model.js';
import { freePort } from '../helpers/ports.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const FULL = process.env.DISTKV_ROBUSTNESS === 'full';
const ROUNDS = FULL ? 20 : 3;
const WRITERS = 16;
const KEYS_PER_WRITER = 8;
const SHARDS = 3;

/** appendGarbage appends 1..400 random (or zero) bytes to the newest segment of the commit log in `logDir`; returns what it did. */
function appendGarbage(logDir: string, random: () => number): string {
  const wal = logDir;
  const newest = readdirSync(wal)
    .filter((n) => n.endsWith('.log'))
    .sort()
    .pop();
  if (newest === undefined) return 'no segment';
  const length = 1 + Math.floor(random() * 400);
  const zeros = random() < 0.25;
  const bytes = Buffer.from(Array.from({ length }, () => (zeros ? 0 : Math.floor(random() * 256))));
  appendFileSync(join(wal, newest), bytes);
  return `${length} ${zeros ? 'zero' : 'random'} bytes after ${newest}`;
}

describe('SIGKILL under load', () => {
  it(`loses no acknowledged write across ${ROUNDS} kill -9 restarts, with garbage tails`, async (t) => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const dir = tempDir(after);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const config = writeConfig(
      dir,
      Array.from({ length: SHARDS }, () => ({ address: `127.0.0.1:${port}` })),
      '[storage]\nmemtable_bytes = 65536\nmax_runs = 2\nwal_segment_bytes = 65536\n',
    );
    const args = ['--config', config, '--data-dir', join(dir, 'data'), '--workers', '1'];
    const model = new CrashModel();
    let counter = 0;
    let acked = 0;
    let tails = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const server = await ServerProcess.start(args, `${base}/healthz`, { DISTKV_LOG_LEVEL: 'warn' });
      // Check the state left by the previous round's kill.
      const observed = new Map<string, string | null>();
      try {
        for (const key of model.keys()) {
          const r = await fetch(`${base}/kv/${key}`);
          const v = r.status === 200 ? await r.text() : (await r.arrayBuffer(), null);
          assert.ok(r.status === 200 || r.status === 404, `GET ${key}: ${r.status}`);
          const problem = model.check(key, v);
          assert.equal(problem, undefined, `after kill ${round} (seed ${seed}): ${problem ?? ''}`);
          observed.set(key, v);
        }
      } catch (err) {
        await server.stop(); // a failed check must not leave the server running
        throw err;
      }
      model.settle(observed);
      let stop = false;
      const writers = Array.from({ length: WRITERS }, async (_, w) => {
        while (!stop) {
          const key = `w${w}-k${Math.floor(random() * KEYS_PER_WRITER)}`;
          const del = random() < 0.1;
          // Every operation takes the next number, deletes too: a delete issued just after a put of
          // the same key must order after it (they used to share a number, and the model then
          // expected the put's value over the acknowledged delete).
          const seq = ++counter;
          const value = del ? null : `r${round}-v${seq}-${'x'.repeat(Math.floor(random() * 200))}`;
          model.issued(key, value);
          try {
            const r = await fetch(
              `${base}/kv/${key}`,
              del ? { method: 'DELETE' } : { method: 'PUT', body: value },
            );
            await r.arrayBuffer();
            if (r.status === 204) {
              model.ackedWrite(key, value, seq);
              acked++;
            } else return;
          } catch {
            return;
          }
        }
      });
      await new Promise((r) => setTimeout(r, 200 + random() * 800));
      server.child.kill('SIGKILL');
      await server.waitExit();
      stop = true;
      await Promise.all(writers);
      if (round % 2 === 1) {
        const what = appendGarbage(join(dir, 'data', 'log', 'w0'), random);
        t.diagnostic(`after kill ${round}: appended ${what} of the commit log`);
        tails++;
      }
    }
    const last = await ServerProcess.start(args, `${base}/healthz`, { DISTKV_LOG_LEVEL: 'warn' });
    try {
      for (const key of model.keys()) {
        const r = await fetch(`${base}/kv/${key}`);
        const v = r.status === 200 ? await r.text() : (await r.arrayBuffer(), null);
        const problem = model.check(key, v);
        assert.equal(problem, undefined, `after the last kill (seed ${seed}): ${problem ?? ''}`);
      }
    } finally {
      await last.stop();
    }
    assert.ok(acked > ROUNDS * 10, `writes were acknowledged (${acked})`);
    t.diagnostic(
      `seed ${seed}: ${ROUNDS} kill -9 rounds, ${acked} acknowledged writes, 0 lost, ${tails} garbage tails cut`,
    );
  });
});
