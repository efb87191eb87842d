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
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  A = await freeNodeAddress();
  const B = await freeNodeAddress();
  // Only A runs (`--node A`): a process hosting both nodes would serve B's keys itself.
  ({ stop } = await startOwnServer(
    [{ address: A }, { address: B }],
    '',
    ['--node', A, '--workers', '1', '--durability', 'none'],
    { DISTKV_LOG_LEVEL: 'warn' },
  ));
});

after(() => stop());

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
