/**
 * What the CLI prints: exact bytes when piped, readable escaped text with a newline on a terminal,
 * and JSON values as the HTTP API gives them (`value`, or `value_base64` when not UTF-8).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { displayBytes, jsonValue, Output } from '../../src/cli/output.js';

function capture(json: boolean, tty: boolean): { out: Output; written: () => Buffer } {
  const chunks: Buffer[] = [];
  const out = new Output(json, tty, (c) => {
    chunks.push(Buffer.from(c));
    return true;
  });
  return { out, written: () => Buffer.concat(chunks) };
}

describe('CLI output', () => {
  it('shows printable text as is and escapes everything else', () => {
    assert.equal(displayBytes(Buffer.from('héllo wörld ✓')), 'héllo wörld ✓');
    assert.equal(displayBytes(Buffer.from([0x61, 0x00, 0xff, 0x0a, 0x09])), '"a\\x00\\xff\\n\\t"');
    assert.equal(displayBytes(Buffer.from('"quoted"')), '"\\"quoted\\""');
    assert.equal(displayBytes(Buffer.concat([Buffer.from('é'), Buffer.from([0xc3])])), '"é\\xc3"');
    assert.equal(displayBytes(Buffer.alloc(0)), '');
  });

  it('gives JSON values as value or value_base64, never undefined', () => {
    assert.deepEqual(jsonValue(Buffer.from('ok')), { value: 'ok' });
    assert.deepEqual(jsonValue(Buffer.from([0xff])), { value_base64: '/w==' });
    assert.deepEqual(jsonValue(Buffer.from([0xef, 0xbb, 0xbf, 0x6f, 0x6b])), { value: '\ufeffok' });
  });

  it('writes a value raw when piped and readable with a newline on a terminal', () => {
    const bytes = Buffer.from([1, 2, 0xff]);
    const piped = capture(false, false);
    piped.out.value(bytes);
    assert.deepEqual(piped.written(), bytes);
    const tty = capture(false, true);
    tty.out.value(Buffer.from('hi'));
    assert.equal(tty.written().toString(), 'hi\n');
  });

  it('prints scan items as KEY<TAB>VALUE or one JSON line each', () => {
    const text = capture(false, false);
    text.out.item('k\t1', Buffer.from([0]));
    assert.equal(text.written().toString(), '"k\\t1"\t"\\x00"\n');
    const json = capture(true, false);
    json.out.item('k', Buffer.from([0xfe]));
    assert.deepEqual(JSON.parse(json.written().toString()), { key: 'k', value_base64: '/g==' });
  });
  it('holds a verb back while the output is full, until it drains (scan --all and watch await it)', async () => {
    let room = 2;
    let drains = 0;
    let release: () => void = () => undefined;
    const out = new Output(
      true,
      false,
      () => --room > 0,
      () => {
        drains++;
        return new Promise<void>((r) => {
          release = r;
        });
      },
    );
    out.line('a');
    await out.drained(); // room left: no wait
    assert.equal(drains, 0);
    out.line('b'); // fills it
    let done = false;
    const waiting = out.drained().then(() => {
      done = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false, 'drained() resolved while the output was full');
    release();
    await waiting;
    assert.equal(drains, 1);
    await out.drained(); // drained once: no second wait
    assert.equal(drains, 1);
  });
});
