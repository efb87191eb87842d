/**
 * A peer's live map that this node refuses is logged once, again when the reason changes or a
 * minute later, and says what to do (src/server/peer-refusal.ts, `refusalDue`). Before, every peer
 * check (every 2 s, per peer) logged "refused the live map of a peer", with nothing to act on: a
 * config that removed a shard's leader left a cluster logging it for good.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { DistkvError } from '../../src/errors.js';
import { PeerCheck } from '../../src/server/peer-check.js';
import { REFUSAL_REPEAT_MS, refusalDue } from '../../src/server/peer-refusal.js';
import { freePort } from '../helpers/ports.js';

describe('a refused peer map', () => {
  it('is due the first time, on another reason, and a minute after', () => {
    assert.equal(refusalDue(undefined, 'a', 0), true);
    assert.equal(refusalDue({ text: 'a', at: 0 }, 'a', REFUSAL_REPEAT_MS - 1), false);
    assert.equal(refusalDue({ text: 'a', at: 0 }, 'b', 1), true);
    assert.equal(refusalDue({ text: 'a', at: 0 }, 'a', REFUSAL_REPEAT_MS), true);
  });

  describe('by the peer checks', () => {
    let srv: Server;
    let peer = '';

    before(async () => {
      const port = await freePort();
      peer = `127.0.0.1:${String(port)}`;
      srv = createServer((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ version: 'abc', map: { version: 9 } }));
      });
      await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
    });

    after(() => {
      srv.close();
    });

    it('is logged once while the reason holds, saying what to do', async () => {
      const lines: string[] = [];
      const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
      let reason = 'shard shard-0: epoch 0 is below 66';
      const onMap = (): Promise<boolean> => Promise.reject(new DistkvError('INVALID_ARGUMENT', reason));
      const check = new PeerCheck([peer], 'abc', 'http', log, undefined, onMap);
      for (let i = 0; i < 3; i++) await check.checkAll();
      const refused = (): string[] => lines.filter((l) => l.includes('refused the live map of'));
      assert.equal(refused().length, 1, 'logged once');
      assert.match(refused()[0]!, /distkv map fetch --from/);
      assert.ok(refused()[0]!.includes(reason));
      reason = 'shard shard-0: the history rewrites epoch 66';
      await check.checkAll();
      await check.checkAll();
      assert.equal(refused().length, 2, 'again when the reason changes');
      await check.stop();
    });
  });
});
