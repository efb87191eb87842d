/**
 * A replica whose pulls its leader refuses from its start says so in its log, at warn, with what the
 * leader answered and what to do (src/replication/follower-state-log.ts). A replica started with
 * another `server.token` than its leader's gets 401 on every pull; it logged one info line,
 * `replication: waiting for the leader to come up` (the 401 only in its `error` field), and an
 * operator waited for a leader that was up and answering. The same went for a first pull refused
 * 409 CONFIG_MISMATCH (a rolling config change) or 403 UNKNOWN_REPLICA. "Waiting for the leader to
 * come up" is kept for a leader that does not answer.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { nodesFixture, type ServerProcess, startConfigNode, writeConfig } from '../helpers/server-process.js';

interface LogLine {
  level: number;
  msg: string;
  shard?: string;
  error?: string;
}

describe('a replica whose pulls its leader refuses from its start', { timeout: 120000 }, () => {
  const { dir, running } = nodesFixture(after, 'distkv-refused-log-');

  it('logs the refusal as a warning, not as a leader that is not up yet', async () => {
    const L = `127.0.0.1:${String(await freePort())}`;
    const R = `127.0.0.1:${String(await freePort())}`;
    const config = writeConfig(dir, [{ address: L, replicas: [R] }]);
    const start = (node: string, token: string): Promise<ServerProcess> =>
      startConfigNode(config, node, join(dir, node.replace(':', '_')), running, [], {
        DISTKV_TOKEN: token,
        DISTKV_LOG_LEVEL: 'info',
      });
    await start(L, 'token-of-the-leader');
    const replica = await start(R, 'another-token');

    const lines = (): LogLine[] =>
      replica.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogLine)
        .filter((l) => l.shard === 'shard-0' && l.msg.startsWith('replication:'));
    for (let t = 0; t < 100 && !lines().some((l) => l.error?.includes('401') === true); t++)
      await new Promise((r) => setTimeout(r, 100));
    const refused = lines().find((l) => l.error?.includes('401') === true);
    assert.ok(refused, `no replication line with the 401; replica output:\n${replica.stdout}`);
    assert.doesNotMatch(
      refused.msg,
      /waiting for the leader to come up/,
      'the leader is up: it refuses the pulls',
    );
    assert.ok(refused.level >= 40, `logged at level ${String(refused.level)}: ${refused.msg}`);
  });
});
