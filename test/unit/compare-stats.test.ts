import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeRatio,
  formatRate,
  median,
  roundOrder,
  roundRatios,
  selectRows,
} from '../../bench/lib/compare-stats.js';
import { RATIOS, ROWS, RUN_ORDER } from '../../bench/lib/compare-rows.js';
import { parseRedisBenchCsv } from '../../bench/lib/redis-benchmark.js';

describe('bench:compare report arithmetic', () => {
  it('takes the middle of an odd count and the mean of the two middles of an even one', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  it('ignores rounds that were not measured when taking a median', () => {
    assert.equal(median([NaN, 5, 7, NaN, 6]), 6);
  });

  it('divides only figures of the same round, skipping rounds one side missed', () => {
    assert.deepEqual(roundRatios([10, undefined, 30, 40], [5, 10, 0, 20]), [2, 2]);
    assert.deepEqual(roundRatios([10, 20, 30], [5]), [2]);
  });

  it('reports the median of the per-round ratios, then each round', () => {
    assert.equal(describeRatio([30, 10, 20], [10, 10, 10]), '2.00 (rounds 3.00 1.00 2.00)');
    assert.equal(describeRatio([1], [undefined]), 'n/a');
  });

  it('writes rates in thousands with one decimal, and unmeasured ones as n/a', () => {
    assert.equal(formatRate(27_345), '27.3k');
    assert.equal(formatRate(812.4), '812');
    assert.equal(formatRate(undefined), 'n/a');
    assert.equal(formatRate(NaN), 'n/a');
  });

  it('alternates the order of a round: as listed on even rounds, reversed on odd ones', () => {
    assert.deepEqual(roundOrder(['a', 'b', 'c'], 0), ['a', 'b', 'c']);
    assert.deepEqual(roundOrder(['a', 'b', 'c'], 1), ['c', 'b', 'a']);
    assert.deepEqual(roundOrder(['a', 'b', 'c'], 2), ['a', 'b', 'c']);
  });
});

describe('bench:compare --rows', () => {
  const ids = ['put', 'get', 'mix-a', 'mix-b'];
  const groups = { mix: ['mix-a', 'mix-b'], all: ids };

  it('expands groups and keeps catalogue order without duplicates', () => {
    assert.deepEqual(selectRows('mix-b,get,mix', ids, groups), ['get', 'mix-a', 'mix-b']);
    assert.deepEqual(selectRows(' put , all', ids, groups), ids);
  });

  it('rejects an unknown name and names the valid ones', () => {
    assert.throws(() => selectRows('put,nope', ids, groups), /unknown row or group "nope".*rows: put, get/);
    assert.throws(() => selectRows(',', ids, groups), /no row selected/);
  });
});

describe('redis-benchmark CSV', () => {
  it('reads throughput and latency percentiles of the named test by header', () => {
    const csv = [
      '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"',
      '"SET","76335.88","0.601","0.120","0.567","0.911","1.255","4.511"',
      '',
    ].join('\n');
    assert.deepEqual(parseRedisBenchCsv(csv, 'set'), { rps: 76335.88, p50Ms: 0.567, p99Ms: 1.255 });
  });

  it('fails with the output when the test is missing', () => {
    assert.throws(() => parseRedisBenchCsv('"test","rps"\n"GET","1"\n', 'set'), /no set line/);
  });
});

describe('bench:compare catalogue', () => {
  it('runs every row once per round and puts the two sides of each ratio next to each other', () => {
    const ids = ROWS.map((r) => r.id);
    assert.deepEqual([...RUN_ORDER].sort(), [...ids].sort());
    for (const [label, a, b] of RATIOS) {
      assert.ok(ids.includes(a) && ids.includes(b), label);
      assert.equal(Math.abs(RUN_ORDER.indexOf(a) - RUN_ORDER.indexOf(b)), 1, label);
    }
  });
});
