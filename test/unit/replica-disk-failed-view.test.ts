/**
 * A replica stopped by its own disk (local-failure.ts: full, EIO, read-only) is said as such in
 * its lag (src/replication/lag.ts: `/cluster`, X-Distkv-Lag, REPLICA_STALE) and by `distkv
 * cluster` (cluster-health.ts), not as `disconnected`: that sent an operator to its leader.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { replicaProblem } from '../../src/cli/cluster-health.js';
import { describeLag, lagHeader, replicaLag } from '../../src/replication/lag.js';
import {
  FOLLOWER_STATES,
  LOCAL_ERROR_CODES,
  localErrorOf,
  localErrorSlot,
  Positions,
  SLOT_CONTACT_AT,
  SLOT_LAST_SEQ,
  SLOT_LOCAL_ERROR,
  SLOT_STATE,
} from '../../src/replication/positions.js';

const NOW = 1_800_000_000_000;
const WAIT = 1000;

/** replica is the positions of one replica in `state`, last answered 200 ms ago, with `localError` published. */
function replica(state: (typeof FOLLOWER_STATES)[number], localError: string | undefined): Positions {
  const p = new Positions(new SharedArrayBuffer(Positions.bytesFor(1)));
  p.set(0, SLOT_STATE, FOLLOWER_STATES.indexOf(state));
  p.set(0, SLOT_LAST_SEQ, 12);
  p.set(0, SLOT_CONTACT_AT, NOW - 200);
  p.set(0, SLOT_LOCAL_ERROR, localErrorSlot(localError));
  return p;
}

describe('a replica whose own disk failed', () => {
  it('numbers every local code in its slot and reads it back, 0 for none or another code', () => {
    for (const code of LOCAL_ERROR_CODES) assert.equal(localErrorOf(localErrorSlot(code)), code);
    assert.equal(localErrorSlot(undefined), 0);
    assert.equal(localErrorSlot('SHARD_UNREACHABLE'), 0);
    assert.equal(localErrorOf(0), undefined);
  });

  it('is disk-failed with the code, its lag unknown, not disconnected', () => {
    const lag = replicaLag(replica('disconnected', 'DISK_FULL'), 0, undefined, WAIT, NOW);
    assert.ok(!lag.known, 'its lag is unknown');
    assert.equal(lag.state, 'disk-failed');
    assert.equal(lag.localError, 'DISK_FULL');
    assert.equal(lagHeader(lag), 'disk-failed; local-error=DISK_FULL; last-contact-ms=200');
    assert.match(describeLag(lag), /its own disk failed \(DISK_FULL\)/);
  });

  it('is disconnected when what stopped it was not its disk', () => {
    const lag = replicaLag(replica('disconnected', undefined), 0, undefined, WAIT, NOW);
    assert.ok(!lag.known, 'its lag is unknown');
    assert.equal(lag.state, 'disconnected');
    assert.equal(lag.localError, undefined);
  });

  it('is what it does once it follows again, whatever the slot still holds', () => {
    const lag = replicaLag(replica('streaming', 'DISK_IO_ERROR'), 0, undefined, WAIT, NOW);
    assert.equal(lag.known, true);
    assert.equal(lag.state, 'streaming');
  });

  it('is a problem for distkv cluster naming its own disk and the code, not its leader', () => {
    const line = replicaProblem('shard-0', {
      address: '127.0.0.1:9001',
      down: false,
      state: 'disk-failed',
      local_error: 'READ_ONLY_FS',
      lag_seqs: null,
    });
    assert.ok(line !== undefined);
    assert.match(
      line,
      /replica 127\.0\.0\.1:9001 does not follow its leader: its own disk failed \(READ_ONLY_FS\)/,
    );
    assert.doesNotMatch(line, /its leader last answered|disconnected/);
  });
});
