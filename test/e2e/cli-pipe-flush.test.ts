/**
 * The CLI's output through a pipe whose reader is slower than the CLI: `distkv scan --json --all`
 * into a pipe (`| gzip > dump`, `| distkv load -`) prints every key before it exits. Node queues a
 * write to a full pipe in memory, and `process.exit` drops what is queued: the dump used to end
 * short, with exit 0 and nothing on stderr (bin/distkv.js now waits for stdout and stderr to
 * flush before it exits), and waits for its output to drain between pages (scan --all held the
 * whole output not yet read in memory).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { SCAN_DEFAULT_LIMIT } from '../../src/http/scan-limit.js';
import { freePorts } from '../helpers/ports.js';
import { routeRequests } from '../helpers/route-requests.js';
import { BIN, REPO_ROOT, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const KEYS = 3000;
/** VALUE_BYTES makes the output (about 6 MiB) far larger than a pipe's buffer (64 KiB). */
const VALUE_BYTES = 2000;
/** PAGES is how many scan pages the CLI asks for: KEYS at the default page size. */
const PAGES = Math.ceil(KEYS / SCAN_DEFAULT_LIMIT);
/**
 * QUIET_MS is how long the node answers no further page before the reader takes the CLI to be
 * waiting on the full pipe: a CLI that goes on asks for its next page within milliseconds.
 */
const QUIET_MS = 1000;
/** BIG_KEY holds BIG_BYTES, 16 times a pipe's buffer: one `distkv get` prints it in one write. */
const BIG_KEY = 'big';
const BIG_BYTES = 1024 * 1024;
/** START_MS bounds the CLI's start and its first page (about 350 ms on a quiet machine). */
const START_MS = 60_000;

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
    await client.put(BIG_KEY, Buffer.alloc(BIG_BYTES, 0x62));
  } finally {
    await client.close();
  }
});

/**
 * blockedOrDone resolves once the CLI cannot go on without the reader, or is done: the node has
 * answered the last page (a CLI that does not wait for its output to drain), or has answered some
 * and no more for QUIET_MS (the first page alone, about 200 KB, is 3 times a pipe's buffer). It used
 * to be a fixed 1.5 s, which on a loaded machine could pass before the CLI had asked for anything:
 * the reader then kept up, and the test passed without a full pipe.
 */
async function blockedOrDone(before: number): Promise<number> {
  const deadline = Date.now() + START_MS;
  let seen = 0;
  let changed = Date.now();
  for (;;) {
    const pages = (await routeRequests(node, 'kv_scan')) - before;
    if (pages !== seen) [seen, changed] = [pages, Date.now()];
    if (pages >= PAGES || (pages > 0 && Date.now() - changed >= QUIET_MS)) return pages;
    assert.ok(
      Date.now() < deadline,
      `the node answered ${String(pages)} scan pages in ${String(START_MS)} ms`,
    );
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('distkv output into a slow pipe', () => {
  it('prints every key of scan --all before it exits, however late the reader reads', async () => {
    const before = await routeRequests(node, 'kv_scan');
    const child = spawn(process.execPath, [BIN, 'scan', '--json', '--all', 'p:'], {
      cwd: REPO_ROOT,
      env: { ...process.env, DISTKV_URL: node },
    });
    child.stdout.pause();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const chunks: Buffer[] = [];
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    const pages = await blockedOrDone(before);
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stdout.resume();
    const code = await closed;
    const lines = Buffer.concat(chunks)
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '');
    assert.equal(stderr, '');
    assert.equal(code, 0);
    assert.equal(
      lines.length,
      KEYS,
      `${String(KEYS - lines.length)} keys missing from the output (read after page ${String(pages)})`,
    );
    assert.equal((JSON.parse(lines.at(-1)!) as { value: string }).value.length, VALUE_BYTES);
  });

  it('prints the whole value of a get before it exits, however late the reader reads', async () => {
    // One answer, one write: nothing waits for the pipe to drain but the exit in bin/distkv.js
    // (without it the value ended at the pipe's 64 KiB, exit 0).
    const before = await routeRequests(node, 'kv_get');
    const child = spawn(process.execPath, [BIN, 'get', BIG_KEY], {
      cwd: REPO_ROOT,
      env: { ...process.env, DISTKV_URL: node },
    });
    child.stdout.pause();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    const deadline = Date.now() + START_MS;
    while ((await routeRequests(node, 'kv_get')) === before) {
      assert.ok(Date.now() < deadline, `the node answered no GET in ${String(START_MS)} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // The CLI prints within milliseconds of the answer; a CLI that would exit has done so by then.
    await new Promise((r) => setTimeout(r, QUIET_MS));
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stdout.resume();
    const code = await closed;
    const out = Buffer.concat(chunks);
    assert.equal(stderr, '');
    assert.equal(code, 0);
    assert.equal(out.length - (out.at(-1) === 0x0a ? 1 : 0), BIG_BYTES, 'bytes of the value printed');
  });
});
