/**
 * `distkv cluster --url A,B` with nothing listening at A: A is passed over at once and B asked,
 * rather than A tried again for --refused-wait-ms (10 s) before B was asked. With B refusing too,
 * A is asked again with that wait (a restart's gap), and the command fails naming both. A node of
 * the map that refused as a --url node is not waited for again as a peer (it is shown DOWN). Twins:
 * B answers /cluster (it leads the one shard, no replica); so does withA, whose replica is A.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

let b: HandlerTwin;
/** withA is a node whose map names A (closed) as the replica of its one shard. */
let withA: HandlerTwin;
let closedA = '';
let closedC = '';

before(async () => {
  closedA = `127.0.0.1:${String(await freePort())}`; // nothing listens there
  closedC = `127.0.0.1:${String(await freePort())}`;
  b = await startOneShardTwin((_req, res) => res.writeHead(404).end());
  withA = await startOneShardTwin((_req, res) => res.writeHead(404).end(), [closedA]);
});

after(async () => {
  await b.stop();
  await withA.stop();
});

describe('distkv cluster whose first node refuses connections', () => {
  it('asks the next node at once', async () => {
    const started = performance.now();
    const r = await runCli(['cluster', '--url', `${closedA},${b.address}`]);
    const tookMs = performance.now() - started;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(b.address));
    // The CLI's own start is a few hundred ms; the old code waited out 10 s at A first.
    assert.ok(tookMs < 5000, `took ${String(Math.round(tookMs))} ms`);
    assert.doesNotMatch(r.stderr, /nothing listens at/);
  });

  it('shows a refusing --url node of the map DOWN without waiting for it again as a peer', async () => {
    // The same command against a node with no refusing member, on this machine now: the CLI's
    // start alone took 4 s on a loaded machine.
    const plainStart = performance.now();
    assert.equal((await runCli(['cluster', '--url', b.address])).code, 0);
    const plainMs = performance.now() - plainStart;
    const started = performance.now();
    const r = await runCli(['cluster', '--url', `${closedA},${withA.address}`]);
    const tookMs = performance.now() - started;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, new RegExp(`${closedA} \\(DOWN\\)`));
    // It was asked as a peer for PEER_ASK_MS (5 s) after it was passed over.
    assert.ok(
      tookMs < plainMs + 3000,
      `took ${String(Math.round(tookMs))} ms, ${String(Math.round(plainMs))} ms without the refusing node`,
    );
  });

  it('comes back to a refusing node with its wait when no node answered', async () => {
    const started = performance.now();
    const r = await runCli(['cluster', '--refused-wait-ms', '800', '--url', `${closedA},${closedC}`]);
    const tookMs = performance.now() - started;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`nothing listens at ${closedA} .*trying again`));
    assert.match(r.stderr, /no node answered \/cluster/);
    assert.ok(tookMs >= 800, `took ${String(Math.round(tookMs))} ms`);
  });
});
