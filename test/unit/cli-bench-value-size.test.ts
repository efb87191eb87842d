/**
 * `distkv bench --value-size` out of what any node takes is a usage mistake: over 64 MiB (the
 * largest max_value_bytes) it is refused naming the bound, where a size over 4 GiB ended in Node's
 * RangeError ("The value of "size" is out of range", exit 1); within it but over the node's own
 * max_value_bytes, the preload's 413s are named as such (exit 2), where they were "INTERNAL:
 * preload failed: 10 of 10 sets failed ({"413":10})".
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

let node: HandlerTwin;

before(async () => {
  // A node whose max_value_bytes is under the bench's values: every PUT is 413 (with a
  // Content-Length: the bench's raw connections read no chunked answers).
  const body = '{"error":{"code":"VALUE_TOO_LARGE","message":"value is 2000 bytes; limit is 1000"}}';
  const head = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  node = await startHandlerTwin((req, res) => {
    req.resume().on('end', () => res.writeHead(413, head).end(body));
  });
});

after(async () => {
  await node.stop();
});

describe('distkv bench --value-size', () => {
  it('refuses a size over 64 MiB naming the bound, before any load', async () => {
    for (const size of ['67108865', '99999999999', '-1']) {
      const r = await runCli([
        'bench',
        '--url',
        node.address,
        '--value-size',
        size,
        '--keys',
        '1',
        '--requests',
        '1',
      ]);
      assert.equal(r.code, 2, `${size}: ${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(
          `^distkv bench: --value-size must be an integer in 0\\.\\.67108864 bytes .*, got "${size}"\\n`,
        ),
      );
    }
  });

  it('names a preload refused as too large as the usage mistake it is', async () => {
    const r = await runCli([
      'bench',
      '--url',
      node.address,
      '--value-size',
      '2000',
      '--keys',
      '10',
      '--requests',
      '1',
      '--quiet',
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /refused 10 of 10 preload sets as too large \(413 VALUE_TOO_LARGE\): --value-size is over the nodes' server\.max_value_bytes/,
    );
  });
});
