/**
 * A watch stream open at a leader that a planned failover demotes keeps reading that node, now a
 * replica (docs/watch.md): its progress events then carry the replica's lag, as a stream opened at
 * a replica does. Before, the stream kept the role it opened with, and its progress named no lag
 * while it served a replica's log.
 */
import assert from 'node:assert/strict';
import { request, type ClientRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { failoverTo, waitFor } from '../helpers/failover-model.js';
import { Trio } from '../helpers/trio.js';

/** progressEvents are the `progress` events' data in the SSE text received so far. */
function progressEvents(text: string): { cursor?: string; lag?: Record<string, string> }[] {
  return text
    .split('\n\n')
    .filter((b) => b.split('\n').includes('event: progress'))
    .flatMap((b) => {
      const data = b.split('\n').find((l) => l.startsWith('data: '));
      return data === undefined ? [] : [JSON.parse(data.slice(6)) as { lag?: Record<string, string> }];
    });
}

describe('a watch stream at a leader a planned failover demotes', { timeout: 90000 }, () => {
  let trio: Trio;
  let stream: ClientRequest | undefined;

  before(async () => {
    trio = await Trio.start('watch-demoted-lag');
    await trio.cluster.following();
  });

  after(async () => {
    stream?.destroy();
    await trio.stop();
  });

  it('shows the replica lag in its progress once the node follows the new leader', async () => {
    const { A, B, client } = trio;
    await client.put('dl/k', 'before');
    let text = '';
    stream = request(`http://${A}/watch?prefix=dl/`, { headers: { accept: 'text/event-stream' } });
    stream.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
    });
    stream.on('error', () => undefined);
    stream.end();
    await waitFor('the stream to open', () => Promise.resolve(text.includes('event: ')), 20000);
    assert.ok(
      progressEvents(text).every((p) => p.lag === undefined),
      `a leader's stream names no lag: ${text}`,
    );
    await failoverTo(B);
    // Writes at B reach A's replica and move the stream's position: its progress names the lag.
    let n = 0;
    await waitFor(
      'a progress event with the lag of A, now a replica',
      async () => {
        await client.put('dl/k', `after-${n++}`);
        return progressEvents(text).some((p) => p.lag !== undefined && p.lag['0'] !== undefined);
      },
      30000,
    );
  });
});
