/**
 * The CLI's output through a pipe whose reader is slower than the CLI: `distkv scan --json --all`
 * into a pipe (`| gzip > dump`, `| distkv load -`) prints every key before it exits. Node queues a
 * write to a full pipe in memory, and `process.exit` drops what is queued: the dump used to end
 * short, with exit 0 and nothing on stderr (bin/distkv.js now waits for stdout and stderr to
 * flush before it exits).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { freePorts } from '../helpers/ports.js';
import { BIN, REPO_ROOT, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const KEYS = 3000;
/** VALUE_BYTES makes the output (about 6 MiB) far larger than a pipe's buffer (64 KiB). */
const VALUE_BYTES = 2000;
/** READER_DELAY_MS is how long the reader waits before it reads: the CLI is done long before. */
const READER_DELAY_MS = 1500;

let server: ServerProcess | undefined;
after(async () => {
  await server?.stop();
});
const dir = tempDir(after);
let node = '';

before(async () => {
  const [port] = await freePorts(1);
  node = `127.0.0.1:${port}`;
  const config = writeConfig(dir, [{ address: node }, { address: node }]);
  server = await ServerProcess.start(
    ['--config', config, '--node', node, '--data-dir', join(dir, 'data'), '--workers', '1'],
    `http://${node}/healthz`,
    { DISTKV_LOG_LEVEL: 'warn' },
  );
  const client = new DistkvClient({ urls: [node] });
  try {
    const value = Buffer.alloc(VALUE_BYTES, 0x61);
    for (let first = 0; first < KEYS; first += 1000) {
      const ops = Array.from({ length: 1000 }, (_, i) => ({
        op: 'set' as const,
        key: `p:${String(first + i)}`,
        value,
      }));
      const results = await client.batch(ops);
      assert.equal(results.filter((r) => !r.ok).length, 0);
    }
  } finally {
    await client.close();
  }
});

describe('distkv output into a slow pipe', () => {
  it('prints every key of scan --all before it exits, however late the reader reads', async () => {
    const child = spawn(process.execPath, [BIN, 'scan', '--json', '--all', 'p:'], {
      cwd: REPO_ROOT,
      env: { ...process.env, DISTKV_URL: node },
    });
    child.stdout.pause();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const chunks: Buffer[] = [];
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    await new Promise((r) => setTimeout(r, READER_DELAY_MS));
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stdout.resume();
    const code = await closed;
    const lines = Buffer.concat(chunks)
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '');
    assert.equal(stderr, '');
    assert.equal(code, 0);
    assert.equal(lines.length, KEYS, `${String(KEYS - lines.length)} keys missing from the output`);
    assert.equal((JSON.parse(lines.at(-1)!) as { value: string }).value.length, VALUE_BYTES);
  });
});
