/**
 * PeerCheck asks the other nodes for their config hash and reports agreement, disagreement (logged
 * as an error) and unreachable peers.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { PeerCheck } from '../../src/server/peer-check.js';
import { freePort } from '../helpers/ports.js';

function serveCluster(port: number, version: string): Promise<Server> {
  const srv = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ version }));
  });
  return new Promise((resolve) =>
    srv.listen(port, '127.0.0.1', () => {
      resolve(srv);
    }),
  );
}

describe('PeerCheck', () => {
  const servers: Server[] = [];
  let same = '';
  let other = '';
  let gone = '';

  before(async () => {
    const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
    servers.push(await serveCluster(p1, 'abc'), await serveCluster(p2, 'xyz'));
    [same, other, gone] = [`127.0.0.1:${p1}`, `127.0.0.1:${p2}`, `127.0.0.1:${p3}`];
  });

  after(() => {
    for (const s of servers) s.close();
  });

  it('reports which peers agree, disagree or do not answer, and logs the mismatch', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const check = new PeerCheck([same, other, gone], 'abc', 'http', log);
    assert.deepEqual(
      check.view().map((p) => p.state),
      ['unknown', 'unknown', 'unknown'],
    );
    await check.checkAll();
    assert.deepEqual(
      check.view().map((p) => [p.address, p.state, p.version]),
      [
        [same, 'agrees', 'abc'],
        [other, 'disagrees', 'xyz'],
        [gone, 'unreachable', undefined],
      ],
    );
    assert.deepEqual(
      check
        .view()
        .filter((p) => p.state === 'disagrees')
        .map((p) => p.address),
      [other],
    );
    assert.equal(lines.filter((l) => l.includes('CONFIG MISMATCH')).length, 1);
    await check.checkAll();
    assert.equal(lines.filter((l) => l.includes('CONFIG MISMATCH')).length, 1, 'logged once per change');
    await check.stop();
  });
});
