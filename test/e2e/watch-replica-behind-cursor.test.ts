/**
 * A watcher that resumes at a replica with the cursor it had at the leader (docs/watch.md,
 * "Resuming": an `EventSource` moved to another node after its leader went away, `distkv watch`
 * given the replica's address) must not see the key go back in time: the replica's log has not
 * reached the cursor yet, but nothing was discarded (one epoch, no failover), so the records after
 * the replica's end are still on their way. Today the start takes the cursor as "past the log's
 * end" (src/watch/shard-watch.ts `startAt`: `v.seq > end`) and sends a snapshot of the replica's
 * older state, then the changes the watcher already had, again: its view of the key goes
 * v5 → v2 → v3 → v4 → v5, and versions it had passed are delivered a second time.
 *
 * The replica is made to lag by holding its following (`POST /_admin/fence` at the replica, as a
 * failover's claim does, for 3 s), so the test is deterministic; loopback only, bounded.
 * The binary stream (what the client library reads) is checked the same way, and that the
 * resumed stream, once the replica caught up, goes on with the leader's next write: the shard
 * waited for the replica to reach the cursor (src/watch/behind-replica.ts) within its bound.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BinaryWatchReader } from '../../src/watch/watch-binary-reader.js';
import { admin } from '../helpers/failover-model.js';
import { Trio } from '../helpers/trio.js';

/** READ_MS bounds how long the resumed stream is read: the hold ends after HOLD_MS. */
const HOLD_MS = 3000;
const READ_MS = HOLD_MS + 5000;

interface WatchEvent {
  type: string;
  key?: string;
  value?: string;
  version?: string;
  snapshot?: boolean;
  cursor?: string;
}

/** seqOf is the seq of a version `E.S`. */
function seqOf(version: string): number {
  return Number(version.split('.')[1]);
}

/** readSse reads the events of `url` until `stopWhen` holds or READ_MS passed. */
async function readSse(
  url: string,
  stopWhen: (ev: WatchEvent[]) => boolean,
): Promise<{ status: number; events: WatchEvent[] }> {
  const ac = new AbortController();
  const timer = setTimeout(() => {
    ac.abort();
  }, READ_MS);
  const events: WatchEvent[] = [];
  let status = 0;
  try {
    const res = await fetch(url, { signal: ac.signal });
    status = res.status;
    if (res.body === null || status !== 200) return { status, events };
    const dec = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body) {
      buf += dec.decode(chunk as Uint8Array, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        for (const line of block.split('\n'))
          if (line.startsWith('data: ')) events.push(JSON.parse(line.slice(6)) as WatchEvent);
      }
      if (stopWhen(events)) break;
    }
  } catch (err) {
    if (!ac.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return { status, events };
}

/** readBinary reads the binary stream (version 2) of `url` as readSse reads SSE. */
async function readBinary(
  url: string,
  stopWhen: (ev: WatchEvent[]) => boolean,
): Promise<{ status: number; events: WatchEvent[] }> {
  const ac = new AbortController();
  const timer = setTimeout(() => {
    ac.abort();
  }, READ_MS);
  const events: WatchEvent[] = [];
  let status = 0;
  try {
    const res = await fetch(url, {
      signal: ac.signal,
      headers: { accept: 'application/vnd.distkv.watch; version=2' },
    });
    status = res.status;
    if (res.body === null || status !== 200) return { status, events };
    const reader = new BinaryWatchReader();
    for await (const chunk of res.body) {
      for (const f of reader.push(Buffer.from(chunk as Uint8Array)))
        events.push(
          f.type === 'json'
            ? (JSON.parse(f.json) as WatchEvent)
            : {
                type: f.type,
                key: f.key.toString(),
                version: f.version,
                ...(f.value === undefined ? {} : { value: f.value.toString() }),
              },
        );
      if (stopWhen(events)) break;
    }
  } catch (err) {
    if (!ac.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return { status, events };
}

/** assertNoRewind checks a stream resumed from `cursor` sent no snapshot and no change at or before it. */
function assertNoRewind(events: readonly WatchEvent[], cursor: string): void {
  const snapshotValues = events.filter((e) => e.snapshot === true).map((e) => e.value);
  assert.deepEqual(
    snapshotValues,
    [],
    `a snapshot of the replica's older state (${snapshotValues.join(', ')}) after the watcher had seen ${cursor}: ${JSON.stringify(events)}`,
  );
  const again = events.filter(
    (e) =>
      (e.type === 'put' || e.type === 'delete') && e.snapshot !== true && seqOf(e.version!) <= seqOf(cursor),
  );
  assert.deepEqual(
    again.map((e) => `${e.value}@${e.version}`),
    [],
    `changes at or before the cursor ${cursor} sent again`,
  );
}

describe('a watch resumed at a replica behind its cursor', { timeout: 90000 }, () => {
  let trio: Trio;

  before(async () => {
    trio = await Trio.start('watch-replica-behind');
    await trio.cluster.following();
  });

  after(async () => {
    await trio.stop();
  });

  it('neither rewinds the key to the replica’s older value nor sends passed versions again', async () => {
    const { A, C } = trio;
    let last = '';
    const put = async (value: string, w: number): Promise<void> => {
      const res = await fetch(`http://${A}/kv/rb?w=${w}&timeout_ms=5000`, { method: 'PUT', body: value });
      await res.arrayBuffer();
      assert.equal(res.status, 204, `put ${value}`);
      last = res.headers.get('etag')!.replaceAll('"', '');
    };
    for (const v of ['v0', 'v1', 'v2']) await put(v, 2);
    await admin(C, `/_admin/fence?shard=0&on=1&ms=${HOLD_MS}`);
    for (const v of ['v3', 'v4', 'v5']) await put(v, 0);
    // A watcher at the leader has seen every change up to `last` (v5); it resumes at replica C.
    const cursor = last;
    // Read until the replica's stream stands at the cursor again (it caught up) or READ_MS.
    const { status, events } = await readSse(`http://${C}/watch?prefix=rb&from=0:${cursor}`, (ev) =>
      ev.some(
        (e) => e.type === 'progress' && e.cursor !== undefined && seqOf(e.cursor.slice(2)) >= seqOf(cursor),
      ),
    );
    if (status !== 200) return; // refusing the resume (the client goes elsewhere) rewinds nothing
    assertNoRewind(events, cursor);
  });

  it('over the binary stream: no rewind either, and the leader’s next write follows once the replica caught up', async () => {
    const { A, C } = trio;
    const put = async (value: string, w: number): Promise<string> => {
      const res = await fetch(`http://${A}/kv/rb?w=${w}&timeout_ms=5000`, { method: 'PUT', body: value });
      await res.arrayBuffer();
      assert.equal(res.status, 204, `put ${value}`);
      return res.headers.get('etag')!.replaceAll('"', '');
    };
    // C holds everything before it is held again (the first test's hold may still run).
    for (const v of ['v6', 'v7']) await put(v, 2);
    await admin(C, `/_admin/fence?shard=0&on=1&ms=${HOLD_MS}`);
    let cursor = '';
    for (const v of ['v8', 'v9', 'v10']) cursor = await put(v, 0);
    const next = setTimeout(() => {
      void put('v11', 0).catch(() => undefined);
    }, 500);
    const url = `http://${C}/watch?prefix=rb&from=0:${cursor}`;
    const { status, events } = await readBinary(url, (ev) =>
      ev.some((e) => e.type === 'resume' || (e.type === 'put' && e.snapshot !== true && e.value === 'v11')),
    ).finally(() => {
      clearTimeout(next);
    });
    assert.equal(status, 200);
    assertNoRewind(events, cursor);
    assert.deepEqual(
      events.filter((e) => e.type === 'put' || e.type === 'resume').map((e) => e.value ?? JSON.stringify(e)),
      ['v11'],
      `the stream goes on after ${cursor} with the next write: ${JSON.stringify(events)}`,
    );
  });
});
