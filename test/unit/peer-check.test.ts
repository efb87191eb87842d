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

describe('PeerCheck slot gate', () => {
  it('refuses the slots a disagreeing peer gives another leader, keeps them while it is silent, frees them once it agrees', async () => {
    const port = await freePort();
    const peer = `127.0.0.1:${port}`;
    const me = '127.0.0.1:1';
    // The peer splits the slots in two where this node has them in three: it leads 8192-16383.
    let doc: unknown = {
      version: 'two',
      shards: [
        { slots: [0, 8191], leader: { address: me } },
        { slots: [8192, 16383], leader: { address: peer } },
      ],
    };
    const srv = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(doc));
    });
    await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
    const mine = [
      { first: 0, last: 5460, leader: me },
      { first: 5461, last: 10922, leader: peer },
      { first: 10923, last: 16383, leader: '127.0.0.1:3' },
    ];
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const check = new PeerCheck([peer], 'three', 'http', log, undefined, undefined, () => mine);
    try {
      assert.equal(check.gate.disputed(6000), false, 'nothing is refused before any check');
      await check.checkAll();
      const refused = (s: number): boolean => check.gate.disputed(s);
      assert.deepEqual([0, 5460, 5461, 8191, 8192, 10922, 10923, 16383].map(refused), [
        false,
        false,
        true,
        true,
        false,
        false,
        true,
        true,
      ]);
      assert.equal(check.view()[0]!.disputed_slots, '5461-8191,10923-16383');
      const e = check.gate.refusal(6000)!;
      assert.equal(e.code, 'SLOTS_DISPUTED');
      assert.equal(e.status, 503);
      assert.match(
        e.message,
        new RegExp(`slot 6000 .*${peer}.*config two.*config three.*5461-8191,10923-16383`),
      );
      assert.ok(lines.some((l) => l.includes('CONFIG MISMATCH') && l.includes('5461-8191,10923-16383')));

      await new Promise<void>((resolve) => {
        srv.close(() => {
          resolve();
        });
      });
      await check.checkAll();
      assert.equal(check.view()[0]!.state, 'unreachable');
      assert.equal(refused(6000), true, 'a silent peer that disagreed may still take those writes');
      assert.match(check.gate.refusal(6000)!.message, /has not answered since/);

      doc = { version: 'three', shards: [] };
      await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
      await check.checkAll();
      assert.equal(check.view()[0]!.state, 'agrees');
      assert.equal(refused(6000), false);
      assert.equal(check.view()[0]!.disputed_slots, undefined);
    } finally {
      await check.stop();
      srv.close();
    }
  });

  it('refuses every slot when a disagreeing peer lists no shards it can read, and none for a silent peer that never disagreed', async () => {
    const port = await freePort();
    const srv = await serveCluster(port, 'other');
    const silent = `127.0.0.1:${await freePort()}`;
    const check = new PeerCheck(
      [`127.0.0.1:${port}`, silent],
      'mine',
      'http',
      pino({ level: 'silent' }),
      undefined,
      undefined,
      () => [{ first: 0, last: 16383, leader: '127.0.0.1:1' }],
    );
    try {
      await check.checkAll();
      assert.equal(check.view()[0]!.disputed_slots, '0-16383');
      assert.equal(check.view()[1]!.disputed_slots, undefined);
    } finally {
      await check.stop();
      srv.close();
    }
  });
});
