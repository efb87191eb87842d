/**
 * `distkv serve --node A --listen B`, B another node's config address (a systemd unit copied from
 * the next host's, one port left unedited), is refused at start: exit 2, CONFIG_INVALID naming
 * --listen and both addresses (src/server/listen-address.ts). It used to start silently and answer
 * a write for a key of B's shard, sent to B, with 307 to B, that is to itself, for ever: curl -L
 * and the CLI looped until "redirected more than 5 times ... the nodes disagree about who owns
 * it", after 5 s. docs/operations.md: "A node never redirects to itself".
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { nodesFixture, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { keyInSlots } from '../helpers/slot-keys.js';

describe("distkv serve --listen on another node's config address", { timeout: 120000 }, () => {
  const { dir, running } = nodesFixture(after, 'distkv-listen-other-');

  it('is refused at start, naming --listen and both nodes', async () => {
    const A = `127.0.0.1:${String(await freePort())}`;
    const B = `127.0.0.1:${String(await freePort())}`;
    const config = writeConfig(dir, [
      { address: A, replicas: [B] },
      { address: B, replicas: [A] },
    ]);
    const p = ServerProcess.spawn([
      'serve',
      '--config',
      config,
      '--node',
      A,
      '--listen',
      B,
      '--data-dir',
      join(dir, 'a'),
      '--workers',
      '1',
    ]);
    running.push(p);
    // Bounded: either it exits, or it serves at B within 30 s.
    let serving = false;
    for (let t = 0; t < 300 && p.child.exitCode === null && !serving; t++) {
      serving = await fetch(`http://${B}/healthz`, { signal: AbortSignal.timeout(2000) })
        .then((r) => r.status === 200)
        .catch(() => false);
      if (!serving) await new Promise((r) => setTimeout(r, 100));
    }
    if (serving) {
      // Say what the old code did, not only that it did not exit.
      const key = keyInSlots(8192, 16383); // shard-1: led by B in the config
      const r = await fetch(`http://${B}/kv/${key}`, { method: 'PUT', body: 'v', redirect: 'manual' });
      await r.text();
      assert.fail(
        `node ${A} started listening at ${B}; a PUT there answered ${String(r.status)} ${r.headers.get('location') ?? ''}`,
      );
    }
    const code = await p.waitExit();
    assert.equal(code, 2, `${p.stdout}\n${p.stderr}`);
    assert.match(p.stderr, /--listen/);
    assert.ok(
      p.stderr.includes(`node ${B} of the config`) && p.stderr.includes(`not of node ${A}`),
      p.stderr,
    );
  });
});
