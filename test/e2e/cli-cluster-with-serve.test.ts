/**
 * `distkv cluster` started together with `distkv serve` (a deploy script: start, then check). The
 * command waits while nothing listens ("trying again (up to 10 s)"), but once the node accepted
 * connections while still opening its stores, it reported the transient start as a fault: "replica
 * ... does not follow its leader (starting, lag unknown; its leader has not answered it since it
 * started)", exit 1, although a second later the same command exited 0. Now it asks again while a
 * node or replica is starting (src/cli/cluster-gather.ts), saying so once on stderr.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { runCli, ServerProcess, writeConfig } from '../helpers/server-process.js';

const dirs: string[] = [];
const servers: ServerProcess[] = [];

after(async () => {
  for (const s of servers) s.child.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('distkv cluster started together with distkv serve', () => {
  it('does not report the node it waited for as unhealthy while that node is still starting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'distkv-cluster-with-serve-'));
    dirs.push(dir);
    const [p1, p2] = await freePorts(2);
    const a = `127.0.0.1:${String(p1)}`;
    const b = `127.0.0.1:${String(p2)}`;
    const config = writeConfig(dir, [
      { address: a, replicas: [b] },
      { address: a, replicas: [b] },
    ]);
    const server = ServerProcess.spawn(['serve', '--config', config, '--data-dir', join(dir, 'data')]);
    servers.push(server);
    const r = await runCli(['cluster', '--url', a]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stderr, /does not follow its leader/);
    assert.doesNotMatch(r.stderr, /not healthy/);
  });
});
