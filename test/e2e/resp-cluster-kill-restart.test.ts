/**
 * ioredis's cluster client across a node killed (SIGKILL) and started again while its pipelines
 * are in flight (docs/resp.md, "Cluster mode"): every reply it delivers answers its own command
 * (SET answers OK, INCR a number above the lane's last, GET and MGET the value the pipeline's SET
 * just wrote), the commands cut off fail rather than get another command's reply, and every write
 * acknowledged before the kill is there after the restart (fsync durability).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { TestCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/failover-model.js';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { tempDir } from '../helpers/temp-dir.js';

const LANES = 6;
/** AFTER_RESTART is how many pipelines each lane completes after the restart before it stops. */
const AFTER_RESTART = 20;
/** LANE_MS bounds a lane's run, however the restart goes. */
const LANE_MS = 40_000;

describe('ioredis cluster pipelines across a kill -9 and restart of the node', () => {
  it(
    'never delivers a reply to the wrong command and loses no acknowledged write',
    { timeout: 120_000 },
    async () => {
      const dir = tempDir(after);
      const A = await freeNodeAddress();
      const cluster = await TestCluster.start({ dir, shards: [{ address: A }, { address: A }] });
      const client = new Cluster([respOf(A)], {
        clusterRetryStrategy: () => 100,
        redisOptions: { connectTimeout: 1000 },
      });
      client.on('error', () => undefined);
      const wrong: string[] = [];
      const acked = new Map<string, string>();
      const lastIncr = new Array<number>(LANES).fill(0);
      let restarted = false;
      let failed = 0;
      const lane = async (L: number): Promise<void> => {
        const end = Date.now() + LANE_MS;
        let afterRestart = 0;
        for (let i = 0; Date.now() < end && afterRestart < AFTER_RESTART; i++) {
          if (restarted) afterRestart++;
          const k = `{lane${L}}k${i}`;
          const counter = `{lane${L}}c`;
          let res: [Error | null, unknown][] | null;
          try {
            res = await client.pipeline().set(k, `${i}`).incr(counter).get(k).mget(k, counter).exec();
          } catch {
            failed++;
            await new Promise((r) => setTimeout(r, 50));
            continue;
          }
          assert.ok(res !== null);
          const [[e1, set], [e2, incr], [e3, get], [e4, mget]] = res as [
            [Error | null, unknown],
            [Error | null, unknown],
            [Error | null, unknown],
            [Error | null, unknown],
          ];
          if (e1 === null) {
            if (set !== 'OK') wrong.push(`SET ${k}: ${String(set)}`);
            else acked.set(k, `${i}`);
          }
          if (e2 === null) {
            if (typeof incr !== 'number' || incr <= lastIncr[L]!)
              wrong.push(`INCR ${counter}: ${String(incr)}`);
            else lastIncr[L] = incr;
          }
          if (e1 === null && e3 === null && get !== `${i}`) wrong.push(`GET ${k}: ${String(get)}`);
          if (e1 === null && e4 === null && (!Array.isArray(mget) || mget[0] !== `${i}`))
            wrong.push(`MGET ${k}: ${JSON.stringify(mget)}`);
          if ([e1, e2, e3, e4].some((e) => e !== null)) failed++;
        }
      };
      try {
        const lanes = Array.from({ length: LANES }, (_, L) => lane(L));
        // Killed while every lane runs: once each has had a pipeline answered (not after a fixed
        // 1.5 s: on a loaded machine the client may not have its slots by then), and 1.5 s at least.
        const started = Date.now();
        await waitFor(
          'every lane to have a pipeline answered',
          () => Promise.resolve(Date.now() - started >= 1500 && lastIncr.every((n) => n > 0)),
          30_000,
        );
        const before = acked.size;
        await cluster.kill(A);
        await cluster.startNode(A);
        restarted = true;
        await Promise.all(lanes);
        assert.deepEqual(wrong, [], 'replies given to the wrong command');
        assert.ok(
          before > 0 && acked.size > before,
          `${before} writes acknowledged before the kill, ${acked.size} in all`,
        );
        const lost: string[] = [];
        for (const [k, v] of acked) {
          const got = await client.get(k);
          if (got !== v) lost.push(`${k}: ${v} acknowledged, ${String(got)} read`);
        }
        for (let L = 0; L < LANES; L++) {
          const got = Number(await client.get(`{lane${L}}c`));
          if (got < lastIncr[L]!) lost.push(`{lane${L}}c: ${lastIncr[L]} acknowledged, ${got} read`);
        }
        assert.deepEqual(lost, [], `acknowledged writes lost (${failed} pipelines failed around the kill)`);
      } finally {
        client.disconnect();
        await cluster.stop();
      }
    },
  );
});
