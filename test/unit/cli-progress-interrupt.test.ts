/**
 * A CLI command interrupted (Ctrl-C, SIGTERM) while its progress line is drawn on a terminal ends
 * that line before it exits, with the shell's code for the signal (src/cli/progress-line.ts). A
 * restore waiting for a shard's leader (outside the handler that covers its writes) died with the
 * line open: the shell's prompt landed on it.
 *
 * stderr is a pipe here; the CLI is made to take it for a terminal (test/helpers/stderr-tty.ts). The
 * node the restore is given names a leader that refuses everything as UNAVAILABLE (a leader whose
 * worker died: leader-wait.ts, MOVING), so the restore waits for the shard's leader, up to 30 s, its
 * wait drawn. (Not DRAINING: the client waits a stopping leader out for its switchWaitMs, 15 s,
 * before the restore sees the refusal and draws its wait; UNAVAILABLE is given up after three
 * quick retries.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { writeOneShardBackup } from '../helpers/one-shard-backup.js';
import { BIN, REPO_ROOT } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

const STDERR_TTY = fileURLToPath(new URL('../helpers/stderr-tty.js', import.meta.url));
/** WAITING is what the restore's progress line says while it waits for the leader. */
const WAITING = "looking for its shard's leader";

const dir = tempDir(after);
let leader: HandlerTwin;
let node: HandlerTwin;

before(async () => {
  leader = await startHandlerTwin((req, res) => {
    req.resume().on('end', () => {
      res
        .writeHead(503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'the shard worker is restarting' } }));
    });
  });
  node = await startHandlerTwin((req, res) => {
    req.resume().on('end', () => {
      if (req.url !== '/cluster') {
        res.writeHead(404).end();
        return;
      }
      const view = JSON.parse(oneShardView(leader.address)) as Record<string, unknown>;
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ...view, node: node.address, hosted_nodes: [node.address] }));
    });
  });
});

after(async () => {
  await Promise.all([node.stop(), leader.stop()]);
});

/** Ended is how an interrupted command ended, and its stderr. */
interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** interruptedRestore runs `distkv restore FILE --url NODE`, sends `signal` once its wait is drawn, and resolves with how it ended. */
async function interruptedRestore(file: string, signal: NodeJS.Signals): Promise<Ended> {
  const child = spawn(
    process.execPath,
    ['--import', STDERR_TTY, BIN, 'restore', file, '--url', node.address],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, DISTKV_TOKEN: '', DISTKV_URL: '' },
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.resume();
  const ended = new Promise<Ended>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      resolve({ code, signal: sig, stderr });
    });
  });
  const deadline = Date.now() + 25_000;
  while (!stderr.includes(WAITING) && child.exitCode === null && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  assert.ok(stderr.includes(WAITING), `the restore did not wait for the leader:\n${stderr}`);
  child.kill(signal);
  return ended;
}

describe('a CLI command interrupted while its progress line is drawn on a terminal', () => {
  const file = join(dir, 'three.dkvb');
  before(() => {
    writeOneShardBackup(
      file,
      ['a', 'b', 'c'].map((k) => ({ key: Buffer.from(k), value: Buffer.from(k), expiresAtMs: 0 })),
    );
  });

  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)
    it(`ends the line, left in view, and exits ${code} on ${signal}`, async () => {
      const r = await interruptedRestore(file, signal);
      assert.ok(
        r.stderr.endsWith('\n'),
        `stderr ends with a newline: ${JSON.stringify(r.stderr.slice(-120))}`,
      );
      assert.deepEqual({ code: r.code, signal: r.signal }, { code, signal: null }, r.stderr);
      const lastLine = r.stderr.slice(0, -1).split('\n').at(-1) ?? '';
      assert.ok(lastLine.startsWith('\r\x1b[K') && lastLine.includes(WAITING), JSON.stringify(lastLine));
    });
});
