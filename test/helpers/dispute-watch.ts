/**
 * What the early-check tests (a node asks a peer for its config at once when the peer refused it
 * as a node in a dispute does) read of a node: how many slots it refuses, and a condition waited
 * for with a deadline.
 */
import assert from 'node:assert/strict';

/** disputedSlots reads `distkv_disputed_slots` of the node at `address` (undefined when absent). */
export async function disputedSlots(address: string): Promise<number | undefined> {
  const text = await (await fetch(`http://${address}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`distkv_disputed_slots{node="${address}"} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/**
 * checkedSince tells whether the node at `address` has finished a check of its peer `peer` that
 * ended at or after `since` (Date.now()): its `/cluster` says how long ago it last read that peer's
 * answer. Until then that check is in flight, and an early check of the peer is not started.
 */
export async function checkedSince(address: string, peer: string, since: number): Promise<boolean> {
  const doc = (await (await fetch(`http://${address}/cluster`)).json()) as {
    peers?: { address: string; checked_ms_ago?: number }[];
  };
  const ago = doc.peers?.find((p) => p.address === peer)?.checked_ms_ago;
  return ago !== undefined && Date.now() - ago >= since;
}

/** until polls `cond` every 20 ms until it holds, failing with `what` after 30 s. */
export async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await cond())) {
    assert.ok(Date.now() < deadline, `${what} within 30 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
