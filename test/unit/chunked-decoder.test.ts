import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ChunkedDecoder, MAX_EXTENSION_BYTES, MAX_TRAILER_BYTES } from '../../src/http/chunked-decoder.js';

/** decode feeds `wire` cut at `cuts` and returns the body, whether it ended, and the bytes left over. */
function decode(wire: Buffer, cuts: number[]): { body: Buffer; done: boolean; rest: number; error?: string } {
  const d = new ChunkedDecoder();
  const parts: Buffer[] = [];
  const bounds = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...bounds, wire.length]) {
    if (to < from) continue;
    const piece = wire.subarray(from, to);
    const r = d.feed(piece, (data) => parts.push(Buffer.from(data)));
    from = to;
    if (r.error !== undefined) return { body: Buffer.concat(parts), done: true, rest: 0, error: r.error };
    if (r.done)
      return {
        body: Buffer.concat(parts),
        done: true,
        rest: wire.length - (from - piece.length + r.consumed),
      };
  }
  return { body: Buffer.concat(parts), done: false, rest: 0 };
}

function encode(chunks: Buffer[], trailer = ''): Buffer {
  const out: Buffer[] = [];
  for (const c of chunks)
    if (c.length > 0) out.push(Buffer.from(`${c.length.toString(16)};ext=1\r\n`), c, Buffer.from('\r\n'));
  out.push(Buffer.from(`0\r\n${trailer}\r\n`));
  return Buffer.concat(out);
}

describe('chunked body decoding', () => {
  it('decodes a body cut anywhere into the same bytes, and stops right after the last chunk (seeded property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.boolean(),
        (chunks, cuts, withTrailer) => {
          const bufs = chunks.map((c) => Buffer.from(c));
          const wire = Buffer.concat([
            encode(bufs, withTrailer ? 'X-Sum: 1\r\n' : ''),
            Buffer.from('GET / HTTP/1.1'),
          ]);
          const r = decode(wire, cuts);
          assert.equal(r.error, undefined);
          assert.ok(r.done);
          assert.deepEqual(r.body, Buffer.concat(bufs));
          assert.equal(r.rest, 'GET / HTTP/1.1'.length, 'the next request is left unread');
        },
      ),
      { seed: 1301, numRuns: 300 },
    );
  });

  it('refuses a size that is not hexadecimal, data longer than its size, and an endless size line', () => {
    assert.match(decode(Buffer.from('zz\r\nab\r\n0\r\n\r\n'), []).error ?? '', /not hexadecimal/);
    assert.match(decode(Buffer.from('2\r\nabc\r\n0\r\n\r\n'), []).error ?? '', /longer than its size/);
    assert.match(decode(Buffer.from('1'.repeat(5000)), []).error ?? '', /too long/);
    assert.match(decode(Buffer.from('-1\r\n'), []).error ?? '', /not hexadecimal/);
    // Hexadecimal, only too large: said so (it was called "not hexadecimal").
    for (const size of ['f'.repeat(20), 'f'.repeat(13)])
      assert.match(
        decode(Buffer.from(`${size}\r\n`), []).error ?? '',
        /chunk size 0xf+ is over \d+ bytes/,
        size,
      );
    assert.equal(decode(Buffer.from(`${'0'.repeat(15)}1\r\na\r\n0\r\n\r\n`), []).body.toString(), 'a');
  });

  it('takes SP and HTAB around a size, and refuses a size padded with VT, FF or NBSP', () => {
    // A size that String.trim turned into hex is one a proxy in front may read otherwise.
    assert.equal(decode(Buffer.from(' 1\t;x\r\na\r\n0 \r\n\r\n'), []).body.toString(), 'a');
    for (const pad of ['\v', '\f', '\u00a0'])
      for (const line of [`${pad}1`, `1${pad}`, `1${pad};x`])
        assert.match(
          decode(Buffer.from(`${line}\r\na\r\n0\r\n\r\n`, 'latin1'), []).error ?? '',
          /not hexadecimal/,
          JSON.stringify(line),
        );
  });

  it('waits for more input when the body is incomplete', () => {
    const r = decode(Buffer.from('5\r\nab'), [1, 3]);
    assert.equal(r.done, false);
    assert.equal(r.body.toString(), 'ab');
  });

  it(`refuses over ${MAX_TRAILER_BYTES} bytes of trailer fields, each line short`, () => {
    const line = `X-T: ${'a'.repeat(1000)}\r\n`;
    const within = line.repeat(Math.floor(MAX_TRAILER_BYTES / line.length));
    assert.equal(decode(encode([Buffer.from('abc')], within), []).error, undefined);
    const over = line.repeat(Math.ceil(MAX_TRAILER_BYTES / line.length) + 1);
    assert.match(decode(encode([Buffer.from('abc')], over), [7, 5000]).error ?? '', /trailer/);
  });

  it(`refuses over ${MAX_EXTENSION_BYTES} bytes of chunk extensions in one body, each line short`, () => {
    const ext = `;e=${'x'.repeat(1000)}`;
    const wire = (n: number): Buffer => Buffer.from(`${`1${ext}\r\na\r\n`.repeat(n)}0\r\n\r\n`);
    assert.equal(decode(wire(Math.floor(MAX_EXTENSION_BYTES / ext.length)), []).body.length, 16);
    assert.match(decode(wire(Math.ceil(MAX_EXTENSION_BYTES / ext.length) + 1), [3]).error ?? '', /extension/);
  });

  it('takes chunk extensions and trailer fields as RFC 9112 writes them, and refuses control characters and other shapes in them', () => {
    const body = (line: string, trailer = ''): ReturnType<typeof decode> =>
      decode(Buffer.from(`${line}\r\nabc\r\n0\r\n${trailer}\r\n`, 'latin1'), []);
    for (const ok of ['3;a', '3 ; a = b', '3;a="x y";b', '3;a="q\\"x"', '3;a="\t\xe9"'])
      assert.equal(body(ok).body.toString(), 'abc', JSON.stringify(ok));
    for (const bad of [
      '3;a\rb',
      '3;\x00',
      '3;\x7f',
      '3;"unterminated',
      '3;a="x',
      '3;=b',
      '3;a=b c',
      '3;a\x0bb',
    ])
      assert.match(body(bad).error ?? '', /chunk extension ".*" is not ;name/, JSON.stringify(bad));
    assert.equal(body('3', 'X-Sum: 1\r\nX-Empty:\r\n').error, undefined);
    for (const bad of ['this is not a field', '\x00\x01', 'X-A: b\rc', 'X A: b', ' folded: x', 'X-A: \x7f'])
      assert.match(
        body('3', `${bad}\r\n`).error ?? '',
        /trailer line ".*" is not a field/,
        JSON.stringify(bad),
      );
  });

  it('reports the bytes each size line declares before their data arrives', () => {
    const d = new ChunkedDecoder();
    const declared: number[] = [];
    d.feed(
      Buffer.from('3\r\nabc\r\nffffffffff\r\nab'),
      () => undefined,
      (n) => declared.push(n),
    );
    assert.deepEqual(declared, [3, 3 + 0xffffffffff]);
  });
});
