/**
 * `distkv set KEY --file FILE` and `set KEY -` read at most HARD_MAX_VALUE_BYTES (64 MiB, the
 * largest value any node's config allows): a longer input is a usage mistake (exit 2) naming the
 * bound, found before anything is sent. `--file /dev/zero` used to read until memory ran out, and a
 * 3 GB file failed with a bare "ERR_FS_FILE_TOO_LARGE". At the bound the value is sent whole.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HARD_MAX_VALUE_BYTES } from '../../src/config/schema.js';
import { BIN, type CliResult, REPO_ROOT } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

/** bodies are the sizes of the PUT bodies the node got. */
const bodies: number[] = [];
let node: HandlerTwin;
const dir = tempDir(after);

before(async () => {
  node = await startOneShardTwin((req, res) => {
    let n = 0;
    req.on('data', (d: Buffer) => (n += d.length));
    req.on('end', () => {
      bodies.push(n);
      res.writeHead(204, { etag: '"0.1"' }).end();
    });
  });
});

after(async () => {
  await node.stop();
});

/** run runs `distkv` with `input` on stdin, killed after 60 s (an unbounded read would never end). */
function run(args: string[], input?: Buffer): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args, '--url', node.address], {
      cwd: REPO_ROOT,
      env: { ...process.env, DISTKV_URL: '', DISTKV_TOKEN: '' },
      timeout: 60000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined);
    if (input !== undefined) child.stdin.end(input);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

const BOUND = new RegExp(
  `holds more than ${HARD_MAX_VALUE_BYTES} bytes, the largest value any distkv node takes`,
);

describe('set reads a bounded input', () => {
  it('refuses --file /dev/zero (endless) with exit 2 naming the bound, nothing sent', async () => {
    bodies.length = 0;
    const r = await run(['set', 'k', '--file', '/dev/zero']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, BOUND);
    assert.match(r.stderr, /^distkv set: \/dev\/zero holds more/);
    assert.deepEqual(bodies, []);
  });

  it('refuses a 3 GB file from its size, nothing sent', async () => {
    bodies.length = 0;
    const big = join(dir, 'sparse');
    writeFileSync(big, '');
    truncateSync(big, 3 * 1024 ** 3);
    const r = await run(['set', 'k', '--file', big]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, BOUND);
    assert.deepEqual(bodies, []);
  });

  it('refuses standard input one byte over the bound, and sends it whole at the bound', async () => {
    bodies.length = 0;
    const over = await run(['set', 'k', '-'], Buffer.alloc(HARD_MAX_VALUE_BYTES + 1, 1));
    assert.equal(over.code, 2, over.stderr);
    assert.match(over.stderr, /^distkv set: standard input holds more than/);
    assert.deepEqual(bodies, []);
    const at = await run(['set', 'k', '-'], Buffer.alloc(HARD_MAX_VALUE_BYTES, 1));
    assert.equal(at.code, 0, at.stderr);
    assert.deepEqual(bodies, [HARD_MAX_VALUE_BYTES]);
  });

  it('still names a directory and a missing file', async () => {
    const d = await run(['set', 'k', '--file', dir]);
    assert.equal(d.code, 2);
    assert.match(d.stderr, /cannot read .*: it is a directory/);
    const m = await run(['set', 'k', '--file', join(dir, 'missing')]);
    assert.equal(m.code, 2);
    assert.match(m.stderr, /cannot read .*: no such file or directory/);
  });
});
