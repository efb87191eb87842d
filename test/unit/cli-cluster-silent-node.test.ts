/**
 * `distkv cluster` with a node that accepts connections and answers nothing (SIGSTOP, a hung host):
 * it shows that node DOWN after one bounded ask (PEER_ASK_MS, 5 s). Asked as any read, with its
 * retries and the looks for a newer map between them, the node held the command 43 s before it
 * printed anything. Twins: N answers /cluster (it leads shard 0; the silent node is its replica).
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

let n: HandlerTwin;
let silentAddress = '';
const held: Socket[] = [];
const silent = createServer((socket) => {
  held.push(socket);
  socket.on('error', () => undefined);
});

before(async () => {
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentAddress = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
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
            replicas: [{ address: silentAddress, local: false }],
          },
        ],
      }),
    );
  });
});

after(async () => {
  for (const s of held) s.destroy();
  await n.stop();
  await new Promise<void>((resolve) => {
    silent.close(() => {
      resolve();
    });
  });
});

describe('distkv cluster with a silent node', () => {
  it('shows it DOWN after one bounded ask, exit 1', async () => {
    const start = performance.now();
    const r = await runCli(['cluster', '--url', n.address]);
    const ms = performance.now() - start;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, new RegExp(`${silentAddress} \\(DOWN\\)`));
    assert.match(r.stdout, new RegExp(`1 node\\(s\\) down: ${silentAddress}`));
    assert.ok(ms < 12000, `distkv cluster took ${ms.toFixed(0)} ms`);
  });
});
