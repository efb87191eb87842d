/**
 * The CLI against careless users: arguments a verb does not take, an empty --url, a scan limit
 * the cluster can only refuse, a bulk load interrupted with Ctrl-C, whose half-loaded stores
 * `distkv serve` must not present as complete, and a backup interrupted mid-copy, which must
 * leave no file behind. Exit codes are main.ts EXIT_CODES.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { BIN, REPO_ROOT, runCli, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const USAGE = 2;

let server: ServerProcess | undefined;
after(async () => {
  await server?.stop();
});
const dir = tempDir(after);
let node = '';

before(async () => {
  const [port] = await freePorts(1);
  node = `127.0.0.1:${port}`;
  const config = writeConfig(dir, [{ address: node }]);
  server = await ServerProcess.start(
    ['--config', config, '--data-dir', join(dir, 'data'), '--workers', '1', '--durability', 'none'],
    `http://${node}/healthz`,
    { DISTKV_LOG_LEVEL: 'warn' },
  );
});

/** assertUsage checks a command-line mistake: exit 2, one clean message, no stack trace. */
function assertUsage(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, USAGE, `exit ${String(r.code)}, stderr: ${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
}

/** waitFor polls `check` every 50 ms for at most `ms`; false when it never held. */
async function waitFor(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

/** exited resolves with a child's exit code, or 'running' if it has not exited within `ms`. */
function exited(child: ChildProcess, ms: number): Promise<number | null | 'running'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve('running');
    }, ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('CLI mistakes', () => {
  it('refuses arguments that cluster and stats do not take', async () => {
    for (const verb of ['cluster', 'stats']) {
      const r = await runCli([verb, 'extra', '--url', node]);
      assertUsage(r, new RegExp(`distkv ${verb}: unexpected argument "extra"`));
      assert.equal(r.stdout, '', verb);
    }
  });

  it('refuses an empty --url instead of quietly using DISTKV_URL or the default node', async () => {
    for (const args of [['--url', ''], ['--url='], ['--url', ',']]) {
      const r = await runCli(['get', 'k', ...args], { DISTKV_URL: node });
      assertUsage(r, /--url needs a value \(HOST:PORT\)/);
    }
  });

  it('refuses a --refused-wait-ms that is not an integer in 0..3600000, naming the bound', async () => {
    for (const value of ['-1', '3600001', 'soon']) {
      const r = await runCli(['get', 'k', '--url', node, '--refused-wait-ms', value]);
      assertUsage(r, /--refused-wait-ms must be an integer in 0\.\.3600000 ms, got "/);
    }
  });

  it('refuses every --limit outside 1..10000 with one message that says what is accepted', async () => {
    // "-1" was answered "must be a non-negative integer" and "0" "must be at least 1": each
    // message named another bound, and neither said the largest page a node takes.
    for (const limit of ['-1', '0', 'abc', '1.5', '', '10001', '99999999999999999999']) {
      const r = await runCli(['scan', '--limit', limit, '--url', node]);
      assertUsage(r, /--limit must be an integer in 1\.\.10000 \(keys per page\), got "/);
      assert.ok(r.stderr.includes(`got ${JSON.stringify(limit)}`), r.stderr);
    }
  });
});

describe('a node of --url that does not answer', () => {
  it('shows the cluster from the next node that answers, as get and set find their topology', async () => {
    const [closed] = await freePorts(1);
    // --refused-wait-ms 0: the closed node is not waited for (its default 10 s were this case's
    // time); the command must still go on to the next node of --url, not stop at the refusal.
    const r = await runCli(['cluster', '--url', `127.0.0.1:${closed!},${node}`, '--refused-wait-ms', '0']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^SHARD .*\\n0 shard-0 .*${node.replaceAll('.', '\\.')}`, 'm'));
  });
});

describe('an interrupted bulk load', () => {
  it('exits non-zero on Ctrl-C, and serve then refuses the half-loaded store, naming it', async () => {
    const loadDir = tempDir(after);
    const [port] = await freePorts(1);
    const address = `127.0.0.1:${port}`;
    const config = writeConfig(loadDir, [{ address }]);
    const data = join(loadDir, 'data');
    const marker = join(data, address.replace(':', '_'), 'shard-0', 'LOADING');
    const load = spawn(process.execPath, [BIN, 'load', '-', '--config', config, '--data-dir', data], {
      cwd: REPO_ROOT,
      env: { ...process.env, DISTKV_DEBUG: '' },
    });
    let loadErr = '';
    load.stderr.setEncoding('utf8').on('data', (d: string) => (loadErr += d));
    load.stdin.write('{"key":"a","value":"1"}\n{"key":"b","value":"2"}\n');
    assert.ok(await waitFor(() => existsSync(marker), 20000), 'the load started');
    load.kill('SIGINT');
    const code = await exited(load, 20000);
    assert.notEqual(code, 0, `the interrupted load exits non-zero (${String(code)})`);
    assert.notEqual(code, 'running');
    assert.match(loadErr, /interrupted: the load did not finish/);
    assert.doesNotMatch(loadErr, /^\s+at /m);

    const serve = spawn(
      process.execPath,
      [BIN, 'serve', '--config', config, '--data-dir', data, '--workers', '1'],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, DISTKV_LOG_LEVEL: 'warn' },
      },
    );
    let serveErr = '';
    serve.stderr.setEncoding('utf8').on('data', (d: string) => (serveErr += d));
    serve.stdout.setEncoding('utf8').on('data', (d: string) => (serveErr += d));
    const healthy = (): Promise<boolean> =>
      fetch(`http://${address}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
    const outcome = await Promise.race([
      exited(serve, 30000),
      waitFor(healthy, 30000).then((up) => (up ? 'serving' : 'running')),
    ]);
    if (outcome === 'serving' || outcome === 'running') serve.kill('SIGKILL');
    assert.notEqual(outcome, 'serving', 'serve did not serve the half-loaded store');
    assert.equal(outcome, 1, `serve exits 1: ${serveErr}`);
    assert.match(serveErr, /shard-0 holds a bulk load that did not finish \(its LOADING file\)/);
    assert.doesNotMatch(serveErr, /^\s+at /m);
  });
});

describe('an interrupted backup', () => {
  it('exits 130 on Ctrl-C mid-copy, leaving neither FILE nor FILE.partial', async () => {
    // A node whose snapshot stream never ends: /cluster is the real node's, pointing at this one.
    const topology = await (await fetch(`http://${node}/cluster`)).text();
    const [fakePort] = await freePorts(1);
    const fake = `127.0.0.1:${String(fakePort)}`;
    const stalled: ServerResponse[] = [];
    const stallingNode = createServer((req, res) => {
      if (req.url?.startsWith('/cluster') === true) res.end(topology.replaceAll(node, fake));
      else if (req.url?.startsWith('/_repl/snapshot') === true) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.flushHeaders();
        stalled.push(res);
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => stallingNode.listen(fakePort, '127.0.0.1', resolve));
    try {
      const file = join(dir, 'interrupted.backup');
      const backup = spawn(process.execPath, [BIN, 'backup', file, '--url', fake], {
        cwd: REPO_ROOT,
        env: { ...process.env, DISTKV_DEBUG: '', DISTKV_URL: '' },
      });
      let err = '';
      backup.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      assert.ok(await waitFor(() => stalled.length > 0, 20000), 'the copy started');
      backup.kill('SIGINT');
      assert.equal(await exited(backup, 20000), 130, err);
      assert.match(
        err,
        /distkv backup: interrupted: .*interrupted\.backup was not written \(.*\.partial removed\)/,
      );
      assert.equal(existsSync(file), false, 'no FILE');
      assert.equal(existsSync(`${file}.partial`), false, 'no FILE.partial');
    } finally {
      for (const res of stalled) res.destroy();
      stallingNode.close();
    }
  });
});
