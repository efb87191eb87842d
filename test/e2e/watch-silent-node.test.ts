/**
 * A client watch whose node stops answering without closing the connection (paused with SIGSTOP;
 * alike a frozen process, a dead host or a partition that drops packets, where no FIN or RST
 * comes) is reported down once its stream has brought nothing, not even the node's keep-alive
 * (every KEEPALIVE_MS, 15 s), for STREAM_SILENCE_MS (src/client/watch-silence.ts), and reconnects
 * as after a dropped connection: when the node answers again the stream is back (`up`) and the
 * watch goes on from where it was. Before, `onStream` stayed silent and the loop waited for ever
 * (a watch so stuck at a leader that a failover replaced never moved to the new one). Found by
 * tester-65 (a node paused 55 s: no notice at all); fails on the code before the fix.
 *
 * The node stays paused until RECONNECT_MS past the first down's retry (at most PAUSE_MS): the
 * reconnect goes to the still paused node (its kernel takes the connection; the head never comes)
 * and is answered once it resumes. (It stayed paused PAUSE_MS whatever came: ~6 s more.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import type { WatchStreamNotice } from '../../src/client/watch.js';
import { STREAM_SILENCE_MS } from '../../src/client/watch-silence.js';
import { pauseProcess } from '../helpers/process-pause.js';
import { type OwnServer, startOneNode } from '../helpers/server-process.js';

/** PAUSE_MS is how long the node stays paused: the silence bound and some more. */
const PAUSE_MS = STREAM_SILENCE_MS + 8000;
/** LATE_MS is how late past STREAM_SILENCE_MS the down notice may come (undici's coarse timers, load). */
const LATE_MS = 4000;
/** RECONNECT_MS is how long past the first down's retry the node stays paused: the reconnect is sent by then. */
const RECONNECT_MS = 2000;

let own: OwnServer & { address: string };

before(async () => {
  own = await startOneNode('[server]\nresp_port_offset = 0', ['--workers', '1']);
});

after(async () => {
  own.server.child.kill('SIGCONT');
  await own.stop();
});

/** waitUntil polls `done` every 50 ms until it holds or `ms` passed; it returns whether it held. */
async function waitUntil(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return done();
}

describe('a watch at a node that stops answering', { timeout: 120000 }, () => {
  it('is reported down within the silence bound, and comes back where it was when the node answers', async () => {
    const kv = new DistkvClient({ urls: [`http://${own.address}`] });
    const notices: (WatchStreamNotice & { at: number })[] = [];
    const ac = new AbortController();
    const keys: string[] = [];
    let open = false;
    const loop = (async () => {
      for await (const ev of kv.watch('silent/', {
        signal: ac.signal,
        progress: true,
        onStream: (n) => notices.push({ ...n, at: Date.now() }),
      })) {
        // the stream's first progress: it is open at the node, so a put from now on is seen
        open = true;
        if (ev.key !== undefined) keys.push(ev.key);
      }
    })();
    try {
      assert.ok(await waitUntil(() => open, 10000), 'the watch stream opens');
      await kv.put('silent/first', 'a');
      assert.ok(await waitUntil(() => keys.includes('silent/first'), 10000), 'the watch is open');

      await pauseProcess(own.server.child);
      const pausedAt = Date.now();
      const down = (): WatchStreamNotice[] => notices.filter((n) => n.state === 'down');
      await waitUntil(() => down().length > 0, PAUSE_MS);
      const first = notices.find((n) => n.state === 'down');
      assert.ok(
        first !== undefined,
        `no down notice in ${String(PAUSE_MS / 1000)} s of a silent stream (notices: ${JSON.stringify(notices)})`,
      );
      const after = first.at - pausedAt;
      assert.ok(
        after <= STREAM_SILENCE_MS + LATE_MS,
        `down ${String(after)} ms after the pause; bound ${String(STREAM_SILENCE_MS)} ms`,
      );
      assert.match(first.reason, /keep-alive/);
      const resumeAt = Math.min(first.at + (first.retryInMs ?? 0) + RECONNECT_MS, pausedAt + PAUSE_MS);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, resumeAt - Date.now())));
      own.server.child.kill('SIGCONT');

      await kv.put('silent/after', 'b');
      assert.ok(
        await waitUntil(() => keys.includes('silent/after'), 20000),
        `the watch did not come back (keys ${JSON.stringify(keys)}, notices ${JSON.stringify(notices)})`,
      );
      assert.deepEqual(keys, ['silent/first', 'silent/after']);
      assert.ok(
        notices.some((n) => n.state === 'up'),
        `no up notice: ${JSON.stringify(notices)}`,
      );
    } finally {
      own.server.child.kill('SIGCONT');
      ac.abort();
      await loop;
      await kv.close();
    }
  });
});
