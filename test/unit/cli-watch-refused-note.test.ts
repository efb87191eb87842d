/**
 * `distkv watch` whose node stops after its stream was up: the watch reconnects for as long as it
 * runs, and the note that nothing listens at the node says so ("until it is back"). It said
 * "trying again (up to 10 s; Ctrl-C gives up)", the bound of the client's wait for the map, after
 * which the watch went on trying: a user waited for an exit that never came, or gave up on a
 * watch that would have resumed.
 * Twin: a one-shard node whose /watch streams a hello and then nothing, and whose listener closes.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sseFrame } from '../../src/watch/watch-event.js';
import { spawnCli } from '../helpers/server-process.js';
import { oneShardView } from '../helpers/twin-server.js';

let server: Server | undefined;
after(() => {
  server?.closeAllConnections();
  server?.close();
});

/** waitFor polls `cond` every 20 ms for up to 20 s. */
async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await sleep(20);
  assert.ok(cond(), `timed out waiting for ${what}`);
}

describe('distkv watch whose node stops', () => {
  it('says it waits for the node until it is back, not up to 10 s', async () => {
    let address = '';
    const s = createServer((req, res) => {
      req.resume();
      if (req.url === '/cluster') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(address));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sseFrame('{"type":"hello","shards":[0],"elsewhere":{},"cursor":"0:1.1"}', 'hello', '0:1.1'));
    });
    server = s;
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    address = `127.0.0.1:${(s.address() as AddressInfo).port}`;
    let streams = 0;
    s.on('request', (req) => {
      if ((req.url ?? '').startsWith('/watch')) streams++;
    });

    const cli = spawnCli(['watch', 'p/', '--url', address]);
    try {
      await waitFor(() => streams === 1, 'the watch stream');
      s.closeAllConnections();
      await new Promise<void>((r) =>
        s.close(() => {
          r();
        }),
      );
      await waitFor(() => cli.stderrSoFar().includes('trying again'), 'the note on the refused node');
      const note = cli
        .stderrSoFar()
        .split('\n')
        .find((l) => l.includes('trying again'));
      assert.match(
        note ?? '',
        /^distkv watch: nothing listens at 127\.0\.0\.1:\d+ \(connection refused: .*\); trying again \(until it is back; Ctrl-C gives up\)$/,
      );
    } finally {
      process.kill(cli.pid, 'SIGINT');
    }
    const r = await cli.result;
    assert.equal(r.code, 0, r.stderr);
  });
});
