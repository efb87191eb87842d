/**
 * A leader store demoted by a newer map (a forced failover it could not be fenced for: it learns of
 * the new leader from its peers, src/server/peer-check.ts) while client writes are still in its
 * group commit. What was acknowledged must be on the new leader or in the store's divergence file
 * (docs/failover.md): the set-role waits for those writes to settle (src/worker/replication-messages.ts)
 * before the store saves its records above the fork and follows. Before, the save ran at once over
 * the records already applied, and a write whose fdatasync ended after it was acknowledged, then
 * dropped when the store rebuilt from the new leader: on no node and in no file (seen in the e2e
 * test failover-forced-paused-leader under load).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { OP_PUT, ST_DONE } from '../../src/worker/op-format.js';
import { GatedVfs } from '../helpers/gated-vfs.js';
import { tempDir } from '../helpers/temp-dir.js';
import { openSpecHost, orphanReplica, runOps, testStoreSpec, untilReplies } from '../helpers/worker-host.js';

/** divergedBytes is every divergence file beside store directory `dir`, concatenated. */
function divergedBytes(dir: string): Buffer {
  const parent = dirname(dir);
  const files = readdirSync(parent).filter((n) => n.includes('.diverged-') && n.endsWith('.log'));
  return Buffer.concat(files.map((n) => readFileSync(join(parent, n))));
}

/** until polls `cond` every 5 ms for at most 10 s. */
async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('a leader demoted with writes in its group commit', () => {
  for (const inFlight of [1, 5])
    it(`keeps each of ${inFlight} acknowledged write(s) in the divergence file`, async () => {
      const dir = tempDir(after);
      const spec = testStoreSpec(dir);
      const vfs = new GatedVfs();
      const h = await openSpecHost(spec, vfs);
      after(() => h.host.close());
      runOps(h.host, (w) => {
        for (let i = 1; i <= 3; i++) w.add(i, OP_PUT, 0, `before-${i}`, `v${i}`);
      });
      await untilReplies(h.replies, [1, 2, 3]);
      const fork = Math.max(...[1, 2, 3].map((id) => h.replies.get(id)!.seq));

      // The new leader forked at `fork`; these writes are appended but not yet synced.
      vfs.hold();
      const ids = Array.from({ length: inFlight }, (_, i) => 10 + i);
      runOps(h.host, (w) => {
        for (const id of ids) w.add(id, OP_PUT, 0, `late-${id}`, `value-${id}`);
      });
      await until('the in-flight batch to reach its sync', () => vfs.heldSyncs > 0);
      h.host.handle({
        type: 'set-role',
        id: 100,
        store: 0,
        spec: orphanReplica(spec),
        fork: { epoch: 2, seq: fork },
      });
      await new Promise((r) => setTimeout(r, 20));
      vfs.release();
      await untilReplies(h.replies, ids);
      await until('the set-role reply', () => h.control.has(100));
      assert.equal(h.control.get(100)!.type, 'set-role-result', JSON.stringify(h.control.get(100)));

      const saved = divergedBytes(spec.dir);
      for (const id of ids) {
        const r = h.replies.get(id)!;
        if (r.status !== ST_DONE) continue; // refused: nothing was promised
        assert.ok(
          saved.includes(Buffer.from(`late-${id}`)) && saved.includes(Buffer.from(`value-${id}`)),
          `write ${id} was acknowledged (seq ${r.seq}) and is not in a divergence file`,
        );
      }
    });
});
