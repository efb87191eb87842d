/**
 * A commit log removed or emptied by hand after a kill -9: the acknowledged writes that lived
 * only in it (the memtable never flushed) are gone. The start must refuse the store, naming the
 * log (the design's "no silent data loss"), or still hold every acknowledged write; it must not
 * serve the older subset as if nothing happened. Found by a crash round: a deleted segment was
 * not noticed at all, and an emptied one was cut as "a torn frame at the tail (a crash during a
 * write that was never acknowledged)".
 */
import assert from 'node:assert/strict';
import { readdirSync, truncateSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { putOk } from '../helpers/node-requests.js';
import { freePort } from '../helpers/ports.js';
import { ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

/** KEYS is how many acknowledged writes the killed node held only in its commit log. */
const KEYS = 20;

/** Outcome is what a restart over the damaged log gave. */
interface Outcome {
  refused: string | undefined;
  missing: string[];
  unavailable: number;
  /** stderr is the warnings and errors the restarted node logged. */
  stderr: string;
}

/** killAfterWrites starts one node, writes KEYS keys (acknowledged), kill -9s it; returns its args and base. */
async function killAfterWrites(dir: string): Promise<{ args: string[]; node: string; logDir: string }> {
  const port = await freePort();
  const node = `127.0.0.1:${String(port)}`;
  const config = writeConfig(dir, [{ address: node }], '[storage]\nmax_runs = 4\n');
  const data = join(dir, 'data');
  const args = ['--config', config, '--data-dir', data, '--workers', '1'];
  const server = await ServerProcess.start(args, `http://${node}/healthz`, { DISTKV_LOG_LEVEL: 'warn' });
  try {
    for (let i = 0; i < KEYS; i++) await putOk(node, `k${String(i)}`);
  } finally {
    server.child.kill('SIGKILL');
    await server.waitExit();
  }
  return { args, node, logDir: join(data, 'log', 'w0') };
}

/** restart starts the node again over its damaged log and reads every acknowledged key. */
async function restart(args: string[], node: string): Promise<Outcome> {
  let server: ServerProcess;
  try {
    server = await ServerProcess.start(args, `http://${node}/healthz`, { DISTKV_LOG_LEVEL: 'warn' }, 20000);
  } catch (err) {
    return { refused: String(err), missing: [], unavailable: 0, stderr: '' };
  }
  const missing: string[] = [];
  let unavailable = 0;
  try {
    for (let i = 0; i < KEYS; i++) {
      const key = `k${String(i)}`;
      const r = await fetch(`http://${node}/kv/${key}`, { signal: AbortSignal.timeout(10000) });
      const body = await r.text();
      if (r.status === 503) unavailable++;
      else if (r.status !== 200 || body !== `v-${key}`) missing.push(`${key} (${String(r.status)})`);
    }
  } finally {
    await server.stop();
  }
  const warnings = (server.stdout + server.stderr).split('\n').filter((l) => /"level":[4-6]0/.test(l));
  return { refused: undefined, missing, unavailable, stderr: warnings.join('\n') };
}

/** segments lists the commit log's segment files in `logDir`, oldest first. */
function segments(logDir: string): string[] {
  return readdirSync(logDir)
    .filter((n) => n.endsWith('.log'))
    .sort();
}

describe('a commit log removed after a crash', () => {
  it('refuses the store, or keeps every acknowledged write, when the log segments were deleted', async () => {
    const dir = tempDir(after);
    const { args, node, logDir } = await killAfterWrites(dir);
    const segs = segments(logDir);
    assert.ok(segs.length > 0, 'the killed node left a commit log segment');
    for (const s of segs) unlinkSync(join(logDir, s));
    const out = await restart(args, node);
    assert.deepEqual(
      out.missing,
      [],
      `the node served without ${String(out.missing.length)} of ${String(KEYS)} acknowledged writes and refused nothing (its warnings: ${out.stderr.slice(0, 600)})`,
    );
  });

  it('refuses the store, or keeps every acknowledged write, when the newest segment was emptied', async () => {
    const dir = tempDir(after);
    const { args, node, logDir } = await killAfterWrites(dir);
    const newest = segments(logDir).pop();
    assert.ok(newest !== undefined, 'the killed node left a commit log segment');
    truncateSync(join(logDir, newest), 0);
    const out = await restart(args, node);
    assert.deepEqual(
      out.missing,
      [],
      `the node served without ${String(out.missing.length)} of ${String(KEYS)} acknowledged writes and refused nothing (its warnings: ${out.stderr.slice(0, 600)})`,
    );
  });
});
