/**
 * A replica in another process replicates under any `replication.pull_max_bytes` the config takes
 * (1 KiB..1 GiB, src/config/validate-config.ts). The leader's `/_repl/pull` answers at most about
 * MAX_PULL_BYTES (64 MiB, the largest value plus its batch) whatever a replica asks: a larger
 * `max_bytes` is served as that bound, not refused. It was refused with 400 INVALID_ARGUMENT
 * ("max_bytes must be an integer in 1..67108864"), so a cluster configured with pull_max_bytes over
 * 64 MiB (say, to pull 64 MiB values in fewer round trips) never replicated: every replica stayed
 * `disconnected` ("waiting for the leader to come up"), its lag `no-contact`. The replica asks at
 * most that bound itself too, so it also follows a leader that still refuses more.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const MIB = 1024 * 1024;
/** PULL_MAX_BYTES is over the leader's own bound on a pull (64 MiB), within the config's (1 GiB). */
const PULL_MAX_BYTES = 128 * MIB;
const VALUE_BYTES = 5 * MIB;
const CATCH_UP_MS = 20000;

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('a replica with replication.pull_max_bytes over 64 MiB', () => {
  const servers: ServerProcess[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
  });
  const dir = tempDir(after);
  let leader = '';
  let replica = '';

  before(async () => {
    const [a, b] = await freePorts(2);
    leader = `127.0.0.1:${a}`;
    replica = `127.0.0.1:${b}`;
    const config = writeConfig(
      dir,
      [{ address: leader, replicas: [replica] }],
      `[server]\nmax_value_bytes = ${64 * MIB}\nresp_port_offset = 0\n[replication]\npull_max_bytes = ${PULL_MAX_BYTES}\n`,
    );
    for (const [node, data] of [
      [leader, 'l'],
      [replica, 'r'],
    ] as const)
      servers.push(
        await ServerProcess.start(
          ['--config', config, '--node', node, '--data-dir', join(dir, data), '--workers', '1'],
          `http://${node}/healthz`,
          { DISTKV_LOG_LEVEL: 'warn' },
        ),
      );
  });

  it("the leader serves a pull asking more than its bound (at most the bound's worth)", async () => {
    const q = `shard=0&after=0&max_bytes=${PULL_MAX_BYTES}&wait_ms=0&replica=${encodeURIComponent(replica)}`;
    const r = await fetch(`http://${leader}/_repl/pull?${q}`, { signal: AbortSignal.timeout(10000) });
    const body = await r.text();
    assert.ok(r.status === 200 || r.status === 204, `pull answered ${r.status} ${body.slice(0, 300)}`);
  });

  it('the replica copies a large value and reads it byte for byte', async () => {
    const value = randomBytes(VALUE_BYTES);
    const put = await fetch(`http://${leader}/kv/big`, { method: 'PUT', body: value });
    assert.equal(put.status, 204, await put.text());
    const deadline = Date.now() + CATCH_UP_MS;
    let last = '';
    for (;;) {
      // At the replica's address a read is served by its replica store (X-Distkv-Lag).
      const r = await fetch(`http://${replica}/kv/big`, { signal: AbortSignal.timeout(10000) });
      const got = new Uint8Array(await r.arrayBuffer());
      last = `${r.status}, X-Distkv-Lag ${r.headers.get('x-distkv-lag')}`;
      if (r.status === 200) {
        assert.equal(got.length, VALUE_BYTES);
        assert.equal(sha(got), sha(value), "the replica's copy holds the value's bytes");
        return;
      }
      assert.ok(
        Date.now() < deadline,
        `the replica did not copy the value within ${CATCH_UP_MS} ms: ${last}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });
});
