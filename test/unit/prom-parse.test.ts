/**
 * The strict Prometheus text-format parser used by the metrics tests: it accepts what Prometheus
 * accepts and names the line of what it would reject.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExposition } from '../helpers/prom-parse.js';

const GOOD = `# HELP req_total Requests.
# TYPE req_total counter
req_total{node="a",path="x\\"y\\\\z\\n"} 3
req_total{node="b"} 1e3

# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{le="0.1"} 1
lat_seconds_bucket{le="+Inf"} 2
lat_seconds_sum 0.3
lat_seconds_count 2
# a plain comment
up NaN 1700000000000
`;

describe('parseExposition', () => {
  it('parses families, escaped label values, exponents, NaN and timestamps', () => {
    const f = parseExposition(GOOD);
    assert.deepEqual([...f.keys()], ['req_total', 'lat_seconds', 'up']);
    assert.equal(f.get('req_total')!.type, 'counter');
    assert.equal(f.get('req_total')!.samples[0]!.labels.path, 'x"y\\z\n');
    assert.equal(f.get('req_total')!.samples[1]!.value, 1000);
    assert.equal(f.get('lat_seconds')!.samples.length, 4);
    assert.ok(Number.isNaN(f.get('up')!.samples[0]!.value));
    assert.equal(f.get('up')!.type, undefined);
  });

  const rejects = (name: string, text: string, pattern: RegExp): void => {
    it(`rejects ${name}`, () => {
      assert.throws(() => parseExposition(text), pattern);
    });
  };
  rejects('a missing final newline', 'up 1', /newline/);
  rejects('a family interleaved with another', 'a 1\nb 1\na{x="1"} 2\n', /continues after another family/);
  rejects('a TYPE after the samples', 'a 1\n# TYPE a gauge\n', /TYPE after samples/);
  rejects('a second HELP', '# HELP a x\n# HELP a y\n', /second HELP/);
  rejects('an unknown type', '# TYPE a meter\n', /unknown type/);
  rejects('a repeated series', 'a{x="1"} 1\na{x="1"} 2\n', /repeated/);
  rejects('a repeated label', 'a{x="1",x="2"} 1\n', /repeated/);
  rejects('an unquoted label value', 'a{x=1} 1\n', /not quoted/);
  rejects('a bad escape', 'a{x="\\t"} 1\n', /bad escape/);
  rejects('a bad metric name', '1a 1\n', /bad metric name/);
  rejects('a value that is not a number', 'a 1ms\n', /not a number/);
  rejects('a missing value', 'a{x="1"}\n', /value/);
  rejects('a bucket without le', '# TYPE h histogram\nh_bucket{x="1"} 1\n', /without le/);
  rejects('a bare histogram sample', '# TYPE h histogram\nh 1\n', /without _bucket/);
});
