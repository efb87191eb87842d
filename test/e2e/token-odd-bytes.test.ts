/**
 * A `server.token` (`--token`, DISTKV_TOKEN) that both nodes of a shard are given, byte for byte,
 * but that cannot travel verbatim in an `Authorization` header: a leading or trailing space (the
 * header's value is trimmed, and the `Bearer +` prefix eats leading spaces), a CR (a token file
 * with CRLF line ends), a character outside Latin-1. `distkv serve` takes each and serves; the
 * replica's pulls then fail for ever: 401 "this node's token is not the leader's" for the spaces,
 * and for the others an info line "waiting for the leader to come up (it does not answer yet)"
 * while undici refuses the header before anything is sent. Nothing says the token is the cause.
 *
 * What a user expects: either the start is refused (exit 2, naming the token) or the replica
 * follows its leader, as with any other token both nodes share. Each case passes on either.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { nodesFixture, ServerProcess, writeConfig } from '../helpers/server-process.js';

const TOKENS: [string, string][] = [
  ['nothing odd (the baseline: this one passes)', 'shared-token'],
  ['a trailing space', 'shared-token '],
  ['a leading space', ' shared-token'],
  ['a CR (a token file with CRLF line ends)', 'shared-token\r'],
  ['a character outside Latin-1', 'shared-t\u20acken'],
];

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** startOrRefused spawns the node and waits for it to serve (true) or to exit (false), 15 s at most. */
async function startOrRefused(p: ServerProcess, node: string): Promise<boolean> {
  for (let t = 0; t < 150; t++) {
    if (p.child.exitCode !== null) return false;
    const ok = await fetch(`http://${node}/healthz`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) return true;
    await sleep(100);
  }
  throw new Error(`${node} neither served nor exited within 15 s:\n${p.stdout}\n${p.stderr}`);
}

describe('a token both nodes share that has odd bytes', { timeout: 240000 }, () => {
  const { dir, running } = nodesFixture(after, 'distkv-token-odd-');

  for (const [what, token] of TOKENS) {
    it(`with ${what}: refused at start, or the replica follows`, async () => {
      const L = `127.0.0.1:${String(await freePort())}`;
      const R = `127.0.0.1:${String(await freePort())}`;
      const sub = join(dir, String(L.split(':')[1]));
      const config = writeConfig(dir, [{ address: L, replicas: [R] }]);
      const spawn = (node: string): ServerProcess => {
        const p = ServerProcess.spawn(
          [
            'serve',
            '--config',
            config,
            '--node',
            node,
            '--data-dir',
            join(sub, node.replace(':', '_')),
            '--workers',
            '1',
          ],
          { DISTKV_TOKEN: token },
        );
        running.push(p);
        return p;
      };
      const leader = spawn(L);
      if (!(await startOrRefused(leader, L))) {
        assert.equal(leader.child.exitCode, 2, `refused with exit 2:\n${leader.stderr}`);
        assert.match(leader.stderr, /token/i, 'the refusal names the token');
        return;
      }
      const replica = spawn(R);
      assert.ok(
        await startOrRefused(replica, R),
        `the replica started as its leader did:\n${replica.stderr}`,
      );
      const put = await fetch(`http://${L}/kv/odd-token-key`, { method: 'PUT', body: 'v1' });
      assert.equal(put.status, 204);
      let got = 0;
      for (let t = 0; t < 60 && got !== 200; t++) {
        got = (await fetch(`http://${R}/kv/odd-token-key`)).status;
        if (got !== 200) await sleep(100);
      }
      const log = replica.stdout
        .split('\n')
        .filter((l) => l.includes('replication:'))
        .slice(0, 2)
        .join('\n');
      assert.equal(got, 200, `the replica did not get the write within 6 s; its replication log:\n${log}`);
    });
  }
});
