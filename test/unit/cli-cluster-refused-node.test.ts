/**
 * `distkv cluster` with a node where nothing listens (stopped, or restarting): the note on stderr
 * promises the wait the command gives it, the same bound (PEER_ASK_MS, 5 s) after which the table
 * shows it DOWN. Before, the note said "trying again (up to 10 s)", the client's wait for a refused
 * connection, and the table said DOWN 5 s later. Twin: N answers /cluster (it leads shard 0; the
 * closed port is its replica).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

let n: HandlerTwin;
let closedAddress = '';

/** closedPort returns a loopback port that was free a moment ago and where nothing listens now. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => {
    s.close(() => {
      resolve();
    });
  });
  return port;
}

before(async () => {
  closedAddress = `127.0.0.1:${String(await closedPort())}`;
  n = await startHandlerTwin((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        version: 'cfg',
        map_version: 1,
        slots: 16384,
        node: n.address,
        hosted_nodes: [n.address],
        shards: [
          {
            idx: 0,
            name: 'shard-0',
            slots: [0, 16383],
            leader: { address: n.address, local: true, last_seq: 5 },
            replicas: [{ address: closedAddress, local: false }],
          },
        ],
      }),
    );
  });
});

after(async () => {
  await n.stop();
});

describe('distkv cluster with a node where nothing listens', () => {
  it('says it tries again for as long as it waits before showing the node DOWN', async () => {
    const r = await runCli(['cluster', '--url', n.address]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, new RegExp(`${closedAddress} \\(DOWN\\)`));
    assert.match(
      r.stderr,
      new RegExp(`nothing listens at ${closedAddress} .*trying again \\(up to 5 s; Ctrl-C gives up\\)`),
    );
    assert.doesNotMatch(r.stderr, /up to 10 s/);
  });
});
