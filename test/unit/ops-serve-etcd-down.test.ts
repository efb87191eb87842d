/**
 * `distkv serve` with `[coordination]` and no etcd answering (docs/failover.md, "Automatic failover
 * with etcd": start etcd first) exits 1 naming the etcd URL, the first failure's cause and what to
 * do. It said only "etcd lease grant: Execution prevented because the circuit breaker is open":
 * the etcd client's word for its own state after the refusals, which named neither the refused
 * connection nor that etcd must run before the node starts; then grpc-js's text of the refusal,
 * ending with an empty "Resolution note:" (src/coordination/etcd-error-text.ts).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { runCli, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir(after);

describe('distkv serve with [coordination] while etcd does not answer', () => {
  it('exits 1 naming the URL, the refused connection and to start etcd first', async () => {
    // Free ports: nothing listens on the etcd one.
    const [node, etcd] = await freePorts(2);
    const config = writeConfig(
      dir,
      [{ address: `127.0.0.1:${node}`, replicas: [] }],
      `[coordination]\netcd = ["http://127.0.0.1:${etcd}"]\nlease_ttl_ms = 1000\n`,
    );
    const r = await runCli(['serve', '--config', config, '--data-dir', join(dir, 'data')]);
    assert.equal(r.code, 1, r.stderr);
    const line = r.stderr.split('\n').find((l) => l.startsWith('distkv serve: ')) ?? r.stderr;
    assert.ok(line.startsWith(`distkv serve: etcd http://127.0.0.1:${etcd} (coordination): `), line);
    assert.match(line, new RegExp(`no connection \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${etcd}\\)`), line);
    assert.doesNotMatch(line, /Resolution note/, line);
    assert.match(line, /Start etcd \(or correct coordination\.etcd\) before distkv serve/, line);
  });
});
