/**
 * `distkv backup` and `distkv restore` whose shard's leader is stopping (503 DRAINING, the answer of
 * a node that stops gracefully while it hands its shards over: src/http/route.ts) say so on stderr
 * at once, long before the leader answers, and then finish. Stderr is a pipe here (a log).
 *
 * - backup: its snapshot refused, the backup's wait for the shard's leader (backup-shard.ts) was
 *   drawn as progress is, which a log gets only after LOG_MS (5 s): a leader refusing for 3 s left
 *   the backup silent throughout. It is drawn at once now. (A real node serves snapshots while it
 *   drains, then refuses connections: SHARD_UNREACHABLE. The wait is the same for every refusal of
 *   a leader down or moving, leader-wait.ts; DRAINING stands for them here.)
 * - restore: its scan and writes refused (a real stopping node still answers `/cluster`), or even
 *   its ask of the leader's `/cluster`: the client waits the stopping leader out (switchWaitMs,
 *   15 s) inside the call, and tells the CLI as it starts waiting (the client's onWait, written by
 *   src/cli/connect.ts), so the restore is not silent while its own wait line is not drawn.
 *
 * Each twin refuses for WINDOW_MS from its first refusal, then serves.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { errorBody } from '../../src/http/respond.js';
import { notServingError } from '../../src/http/route.js';
import { writeOneShardBackup } from '../helpers/one-shard-backup.js';
import { BIN, type CliResult, REPO_ROOT, spawnCli } from '../helpers/server-process.js';
import { snapshotStream } from '../helpers/snapshot-stream.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

/** STDERR_TTY makes the CLI take its stderr (a pipe) for a terminal (test/helpers/stderr-tty.ts). */
const STDERR_TTY = fileURLToPath(new URL('../helpers/stderr-tty.js', import.meta.url));
/** ERASE_LINE is what a terminal's progress line is erased with (src/cli/progress-line.ts). */
const ERASE_LINE = '\r\x1b[K';
/** WINDOW_MS is how long a twin leader refuses as a stopping node, from its first refusal. */
const WINDOW_MS = 3000;
/** SAID_WITHIN_MS bounds how long after the first refusal the command says it waits (generous: a loaded machine). */
const SAID_WITHIN_MS = 2000;
const KEYS = 5;

const dir = tempDir(after);
const twins: HandlerTwin[] = [];

after(async () => {
  await Promise.all(twins.map((t) => t.stop()));
});

/** Drain is a twin leader's refusal window: when it first refused, and when it first served after it. */
interface Drain {
  firstRefusal: number | undefined;
  servedAt: number | undefined;
}

/** refuseDraining answers `res` as a stopping node does (503 DRAINING, Retry-After: 1, the catalogue's JSON body). */
function refuseDraining(res: ServerResponse): void {
  res
    .writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' })
    .end(errorBody(notServingError('draining')));
}

/**
 * drainingLeader starts a twin whose requests `refused(req)` picks are refused as DRAINING for
 * WINDOW_MS from the first of them; every request (those after the window too) goes to `serve`
 * otherwise, given the twin's address.
 */
async function drainingLeader(
  refused: (req: IncomingMessage) => boolean,
  serve: (req: IncomingMessage, res: ServerResponse, self: string, body: Buffer) => void,
): Promise<{ twin: HandlerTwin; drain: Drain }> {
  const drain: Drain = { firstRefusal: undefined, servedAt: undefined };
  const twin = await startHandlerTwin((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      if (refused(req)) {
        drain.firstRefusal ??= performance.now();
        if (performance.now() - drain.firstRefusal < WINDOW_MS) {
          refuseDraining(res);
          return;
        }
        drain.servedAt ??= performance.now();
      }
      serve(req, res, twin.address, Buffer.concat(parts));
    });
  });
  twins.push(twin);
  return { twin, drain };
}

/** json answers 200 with `text` (JSON). */
function json(res: ServerResponse, text: string): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(text);
}

/** Watched is a command's result and when its stderr first matched the pattern watched for. */
interface Watched {
  r: CliResult;
  saidAt: number | undefined;
}

/** runWatched runs `distkv <args>` and notes when its stderr first matches `said`. */
async function runWatched(args: string[], said: RegExp): Promise<Watched> {
  const cli = spawnCli(args);
  let saidAt: number | undefined;
  const poll = setInterval(() => {
    if (saidAt === undefined && said.test(cli.stderrSoFar())) saidAt = performance.now();
  }, 20);
  try {
    const r = await cli.result;
    if (saidAt === undefined && said.test(r.stderr)) saidAt = performance.now();
    return { r, saidAt };
  } finally {
    clearInterval(poll);
  }
}

/** saysAtOnce checks that the wait was said within SAID_WITHIN_MS of the first refusal, before the leader served. */
function saysAtOnce(w: Watched, drain: Drain, said: RegExp): void {
  assert.ok(drain.firstRefusal !== undefined, 'the leader refused nothing');
  assert.ok(drain.servedAt !== undefined, 'the leader never served after its refusals');
  assert.ok(w.saidAt !== undefined, `stderr never matched ${String(said)}:\n${w.r.stderr}`);
  const after = Math.round(w.saidAt - drain.firstRefusal);
  assert.ok(after < SAID_WITHIN_MS, `said ${after} ms after the first refusal:\n${w.r.stderr}`);
  assert.ok(
    w.saidAt < drain.servedAt,
    `said only after the leader served (${after} ms after the first refusal):\n${w.r.stderr}`,
  );
}

/** restoreFile writes a one-shard backup of KEYS keys named `name` and returns its path. */
function restoreFile(name: string, keys = KEYS): string {
  const file = join(dir, name);
  writeOneShardBackup(
    file,
    Array.from({ length: keys }, (_, i) => ({
      key: Buffer.from(`k${i}`),
      value: Buffer.from(`v${i}`),
      expiresAtMs: 0,
    })),
  );
  return file;
}

/**
 * restoreTarget is a configured node O that names the twin leader L (`drainingLeader`, refusing what
 * `refused` picks) as shard 0's leader; L takes the restore's scan and batches once it serves.
 */
async function restoreTarget(
  refused: (req: IncomingMessage) => boolean,
  batchMs = 0,
): Promise<{ node: HandlerTwin; leader: HandlerTwin; drain: Drain }> {
  const { twin: leader, drain } = await drainingLeader(refused, (req, res, self, body) => {
    const path = new URL(req.url ?? '/', 'http://twin').pathname;
    if (path === '/cluster') json(res, oneShardView(self));
    else if (req.method === 'GET' && path === '/kv') json(res, '{"items":[],"next":null}');
    else if (req.method === 'POST' && path === '/kv/_batch') {
      const ops = JSON.parse(body.toString()) as unknown[];
      // `batchMs` lets a terminal's progress line be drawn between batches.
      setTimeout(() => {
        json(res, JSON.stringify({ results: ops.map(() => ({ ok: true })), errors: 0 }));
      }, batchMs);
    } else res.writeHead(404).end();
  });
  const node = await startHandlerTwin((req, res) => {
    req.resume().on('end', () => {
      if (req.url !== '/cluster') {
        res.writeHead(404).end();
        return;
      }
      const view = JSON.parse(oneShardView(leader.address)) as Record<string, unknown>;
      json(res, JSON.stringify({ ...view, node: node.address, hosted_nodes: [node.address] }));
    });
  });
  twins.push(node);
  return { node, leader, drain };
}

describe('backup and restore whose leader is stopping (503 DRAINING)', { concurrency: true }, () => {
  it('backup says at once that it waits for the shard leader, then copies the shard', async () => {
    const { twin, drain } = await drainingLeader(
      (req) => req.url?.startsWith('/_repl/snapshot') === true,
      (req, res, self) => {
        if (req.url === '/cluster') {
          json(res, oneShardView(self, 1, KEYS));
          return;
        }
        const entries = Array.from({ length: KEYS }, (_, i) => ({
          key: Buffer.from(`k${i}`),
          value: Buffer.from(`v${i}`),
          seq: i + 1,
        }));
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(snapshotStream(KEYS, entries));
      },
    );
    const said = new RegExp(
      `DRAINING at ${twin.address}: its leader is stopping; looking for its next leader`,
    );
    const w = await runWatched(['backup', join(dir, 'draining.dkvb'), '--url', twin.address], said);
    assert.equal(w.r.code, 0, w.r.stdout + w.r.stderr);
    assert.match(w.r.stdout, /shard 0 shard-0: 5 keys at seq 5\n/);
    saysAtOnce(w, drain, said);
  });

  it('restore says at once that its writes wait for the next leader, then writes every key', async () => {
    // A stopping node still answers /cluster (route.ts, `always`): its key requests are refused.
    const { node, leader, drain } = await restoreTarget((req) => req.url?.startsWith('/kv') === true);
    const said = new RegExp(`node ${leader.address} is stopping; waiting for .*next leader`);
    const w = await runWatched(['restore', restoreFile('writes.dkvb'), '--url', node.address], said);
    assert.equal(w.r.code, 0, w.r.stdout + w.r.stderr);
    assert.match(w.r.stdout, /^restored 5 keys from /);
    saysAtOnce(w, drain, said);
  });

  it("restore says at once that it waits when even the leader's /cluster is refused", async () => {
    const { node, leader, drain } = await restoreTarget(() => true);
    const said = new RegExp(`node ${leader.address} is stopping; waiting for .*next leader`);
    const w = await runWatched(['restore', restoreFile('ask.dkvb'), '--url', node.address], said);
    assert.equal(w.r.code, 0, w.r.stdout + w.r.stderr);
    assert.match(w.r.stdout, /^restored 5 keys from /);
    saysAtOnce(w, drain, said);
  });
});

describe('a wait note while the progress line is drawn on a terminal', () => {
  it('starts a line of its own (it ran on after the line: "2000 keys writtendistkv restore: ...")', async () => {
    // Two batches of 1000 keys (RESTORE_BATCH_OPS) are written, 400 ms each, drawing the line;
    // then the leader stops (refuses as DRAINING) for WINDOW_MS and the client notes its wait.
    let batches = 0;
    const { node } = await restoreTarget((req) => req.url === '/kv/_batch' && ++batches > 2, 400);
    const child = spawn(
      process.execPath,
      ['--import', STDERR_TTY, BIN, 'restore', restoreFile('tty.dkvb', 4000), '--url', node.address],
      { cwd: REPO_ROOT, env: { ...process.env, DISTKV_TOKEN: '', DISTKV_URL: '' } },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    assert.equal(code, 0, stderr);
    const note = stderr.indexOf('distkv restore: node ');
    assert.ok(note >= 0, `no wait note: ${JSON.stringify(stderr)}`);
    assert.match(
      stderr.slice(0, note),
      /keys written/,
      `the line was not drawn before the note: ${JSON.stringify(stderr)}`,
    );
    // The note starts a line: after a newline, or after the drawn line was erased.
    assert.ok(
      stderr.slice(0, note).endsWith('\n') || stderr.slice(0, note).endsWith(ERASE_LINE),
      `the wait note ran on after the progress line: ${JSON.stringify(stderr.slice(Math.max(0, note - 60), note + 40))}`,
    );
  });
});
