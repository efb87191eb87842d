/**
 * A command whose standard output cannot be written (redirected to a file on a full disk; here
 * /dev/full, where every write fails with ENOSPC) ends with one line naming standard output and
 * why, exit 2 (a file mistake, as backup's own file), and no stack trace. It ended with Node's
 * uncaught-exception trace and exit 1, as if the cluster had refused: `distkv get k > copy` or
 * `distkv scan --all > dump` on a full disk left a short file in a wall of text.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

/** TO_FULL runs the command with its stdout on /dev/full. */
const TO_FULL = ['/bin/sh', '-c', 'exec "$0" "$@" > /dev/full'];

let node: HandlerTwin;

before(async () => {
  node = await startOneShardTwin((req, res) => {
    req.resume();
    if (req.method === 'GET' && req.url === '/kv/k')
      res.writeHead(200, { etag: '"0.1"', 'content-type': 'application/octet-stream' }).end('v'.repeat(100));
    else res.writeHead(404).end();
  });
});

after(async () => {
  await node.stop();
});

describe('a command whose stdout cannot be written', () => {
  it('says so in one line and exits 2, no stack trace', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['--version'],
        /^distkv: cannot write to standard output \(ENOSPC: .*\): what it printed is incomplete\n$/,
      ],
      [['get', '--help'], /^distkv get: cannot write to standard output \(ENOSPC: .*\n$/],
      [['get', 'k', '--url', node.address], /^distkv get: cannot write to standard output \(ENOSPC: .*\n$/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, {}, undefined, TO_FULL);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });
});
