/**
 * `distkv cluster` with a node where nothing listens (stopped, or restarting): the note on stderr
 * promises the wait the command gives it, the same bound (PEER_ASK_MS, 5 s) after which the table
 * shows it DOWN. Before, the note said "trying again (up to 10 s)", the client's wait for a refused
 * connection, and the table said DOWN 5 s later. Twin: N answers /cluster (it leads the one shard;
 * the closed port is its replica).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

let n: HandlerTwin;
let closedAddress = '';

before(async () => {
  closedAddress = `127.0.0.1:${String(await freePort())}`; // nothing listens there
  n = await startOneShardTwin((_req, res) => res.writeHead(404).end(), [closedAddress]);
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
