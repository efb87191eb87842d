/**
 * The load generator's key choosers (uniform, zipf skew against the exact distribution), its mix
 * parsing and its wire parsers (responses split at every byte boundary).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMix } from '../../src/loadgen/loadgen.js';
import { HttpParser, RespParser } from '../../src/loadgen/wire.js';
import { chooserFor, scatterIndex, UniformChooser, ZipfChooser } from '../../src/loadgen/zipf.js';

describe('key choosers', () => {
  it('zipf:0.99 gives each top rank its exact probability', () => {
    const n = 10_000;
    const z = new ZipfChooser(n, 0.99, 42);
    const counts = new Map<number, number>();
    const draws = 400_000;
    for (let i = 0; i < draws; i++) {
      const r = z.nextRank();
      counts.set(r, (counts.get(r) ?? 0) + 1);
    }
    for (const r of [0, 1, 2, 5, 10]) {
      const expected = z.probability(r) * draws;
      const got = counts.get(r) ?? 0;
      // within 5 standard deviations of a binomial count
      assert.ok(
        Math.abs(got - expected) < 5 * Math.sqrt(expected) + 0.02 * expected,
        `rank ${r}: ${got} vs ${expected.toFixed(0)}`,
      );
    }
    // The skew: the top 1% of keys draw far more than 1% of requests (about 60% for s = 0.99).
    let top = 0;
    for (let r = 0; r < n / 100; r++) top += counts.get(r) ?? 0;
    let exact = 0;
    for (let r = 0; r < n / 100; r++) exact += z.probability(r);
    assert.ok(Math.abs(top / draws - exact) < 0.01, `top 1%: ${top / draws} vs ${exact}`);
    assert.ok(exact > 0.5);
  });

  it('uniform spreads evenly', () => {
    const u = new UniformChooser(10, 3);
    const c = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) c[u.next()]!++;
    for (const n of c) assert.ok(Math.abs(n - 10_000) < 500, String(c));
  });

  it('scatters ranks by a permutation of the key space', () => {
    for (const n of [1, 7, 1000, 100_000]) {
      const seen = new Set<number>();
      for (let r = 0; r < n; r++) seen.add(scatterIndex(r, n));
      assert.equal(seen.size, n);
      assert.ok([...seen].every((x) => x >= 0 && x < n));
    }
  });

  it('parses --dist and rejects what it cannot use', () => {
    assert.ok(chooserFor('uniform', 10, 1) instanceof UniformChooser);
    assert.ok(chooserFor('zipf:0.99', 10, 1) instanceof ZipfChooser);
    assert.ok(chooserFor('zipf', 10, 1) instanceof ZipfChooser);
    assert.throws(() => chooserFor('normal', 10, 1), /--dist/);
    assert.throws(() => chooserFor('zipf:0', 10, 1), /exponent/);
    assert.ok(chooserFor('zipf:1', 10, 1) instanceof ZipfChooser);
  });
});

describe('--mix', () => {
  it('normalises weights and rejects bad parts', () => {
    assert.deepEqual(parseMix('get:90,set:10'), [0.9, 0.1, 0]);
    assert.deepEqual(parseMix('get:1,set:1,del:2'), [0.25, 0.25, 0.5]);
    assert.throws(() => parseMix('get:90,put:10'), /put:10/);
    assert.throws(() => parseMix('get:0'), /positive/);
  });
});

describe('wire parsers', () => {
  const feedSplit = (
    p: { feed(b: Buffer, f: (s: number) => void): void },
    text: string,
    at: number,
  ): number[] => {
    const out: number[] = [];
    const b = Buffer.from(text, 'latin1');
    p.feed(b.subarray(0, at), (s) => out.push(s));
    p.feed(b.subarray(at), (s) => out.push(s));
    return out;
  };

  it('HTTP: statuses of pipelined responses, whatever the split', () => {
    const text =
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello' +
      'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n' +
      'HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n' +
      'HTTP/1.1 503 Service Unavailable\r\nContent-Length:  12\r\n\r\nunavailable!';
    for (let at = 0; at <= text.length; at++)
      assert.deepEqual(feedSplit(new HttpParser(), text, at), [200, 404, 204, 503], `split at ${at}`);
  });

  it('HTTP: refuses chunked bodies and garbage', () => {
    assert.throws(() => {
      new HttpParser().feed(
        Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'),
        () => undefined,
      );
    }, /chunked/);
    assert.throws(() => {
      new HttpParser().feed(Buffer.from('SSH-2.0\r\n\r\n'), () => undefined);
    }, /not an HTTP/);
  });

  it('RESP: values, nil, OK, integers and errors, whatever the split', () => {
    const text = '$5\r\nhello\r\n$-1\r\n+OK\r\n:1\r\n-ERR wrong\r\n$0\r\n\r\n';
    for (let at = 0; at <= text.length; at++)
      assert.deepEqual(
        feedSplit(new RespParser(), text, at),
        [200, 404, 200, 200, 500, 200],
        `split at ${at}`,
      );
  });

  it('RESP: errors count as HTTP would answer them (redirect 307, try again 503, else 500), whatever the split', () => {
    const text =
      '-MOVED 3999 127.0.0.1:7001\r\n-ASK 1 127.0.0.1:7002\r\n-TRYAGAIN the node is shutting down\r\n' +
      '-CLUSTERDOWN\r\n-LOADING\r\n-ERR MOVED\r\n-MOVEDX 1\r\n-WRONGTYPE x\r\n';
    for (let at = 0; at <= text.length; at++)
      assert.deepEqual(
        feedSplit(new RespParser(), text, at),
        [307, 307, 503, 503, 503, 500, 500, 500],
        `split at ${at}`,
      );
  });
});
