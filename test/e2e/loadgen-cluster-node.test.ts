/**
 * `distkv bench --url` at one node of a multi-node cluster, over HTTP and RESP: raw connections do
 * not follow redirects, so the keys the node does not own are answered 307 (HTTP) or -MOVED (RESP).
 * The bench says so and how to bench the cluster instead: a preload refused that way is a usage
 * mistake (exit 2) naming --config, not "INTERNAL: preload failed", and a RESP redirect counts as 307
 * like HTTP's, not as the 500 every RESP error was counted as.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LoadResult } from '../../src/loadgen/loadgen.js';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { type CliResult, runCli, startOwnServer } from '../helpers/server-process.js';

let A = '';
const stops: (() => Promise<void>)[] = [];

before(async () => {
  A = await freeNodeAddress();
  const B = await freeNodeAddress();
  // A and B run in processes of their own (`--node`): a process hosting both nodes would serve B's
  // keys itself. B runs: a RESP owner that does not answer is -CLUSTERDOWN, not -MOVED.
  for (const node of [A, B]) {
    const { stop } = await startOwnServer(
      [{ address: A }, { address: B }],
      '',
      ['--node', node, '--workers', '1', '--durability', 'none'],
      { DISTKV_LOG_LEVEL: 'warn' },
    );
    stops.push(stop);
  }
  // Each process checks it serves at A; B's own start, and A seeing it answer, are waited for here.
  const deadline = Date.now() + 30000;
  const sees = async (): Promise<boolean> => {
    const r = await fetch(`http://${A}/cluster`).catch(() => undefined);
    if (r?.status !== 200) return false;
    const doc = (await r.json()) as { peers?: { address: string; state: string }[] };
    return doc.peers?.some((p) => p.address === B && p.state === 'agrees') === true;
  };
  while (!(await sees())) {
    assert.ok(Date.now() < deadline, `A did not see B answer within 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(async () => {
  for (const stop of stops) await stop();
});

const redisUrl = (): string => `redis://${respOf(A).host}:${respOf(A).port}`;
const bench = (url: string, extra: string[]): Promise<CliResult> =>
  runCli([
    'bench',
    '--url',
    url,
    ...['--keys', '200', '--requests', '400', '--concurrency', '4', '--threads', '1', '--warmup', '0'],
    ...extra,
  ]);

describe('distkv bench at one node of a larger cluster', () => {
  for (const [proto, url] of [
    ['HTTP', (): string => `http://${A}`],
    ['RESP', redisUrl],
  ] as const) {
    it(`refuses a preload the node redirects as a usage mistake naming --config (${proto})`, async () => {
      const r = await bench(url(), []);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.doesNotMatch(r.stderr, /INTERNAL/);
      assert.match(r.stderr, /redirected \d+ of 200 preload sets to the nodes that own their keys/);
      assert.match(r.stderr, /--config FILE/);
    });
  }

  it('counts a RESP -MOVED as 307, as HTTP redirects count, and says why they failed', async () => {
    const r = await bench(redisUrl(), ['--no-preload', '--mix', 'get:50,set:50', '--json']);
    assert.equal(r.code, 1, r.stderr);
    const res = JSON.parse(r.stdout) as LoadResult;
    assert.ok((res.by_status['307'] ?? 0) > 0, JSON.stringify(res.by_status));
    assert.equal(res.by_status['500'], undefined, JSON.stringify(res.by_status));
    const text = await bench(redisUrl(), ['--no-preload', '--mix', 'get:50,set:50']);
    assert.match(text.stdout, /307: \d+ .*redirect/i);
    assert.match(text.stdout, /--config FILE/);
  });
});
