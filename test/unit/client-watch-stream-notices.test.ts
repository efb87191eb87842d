/**
 * A watch whose node goes away reconnects and resumes exactly, but said nothing meanwhile: a user
 * of `distkv watch` could not tell "no changes" from "disconnected". The client's watch now tells
 * its `onStream` hook each failed attempt (`down`) and the stream's return (`up`), and the CLI
 * writes one line on stderr when a stream drops and one when it is back, never on stdout (piped,
 * it is JSON lines). The node here is a twin serving SSE: its first stream sends a change and is
 * cut, its second answer is 503 STARTING (a restart), its third stream sends the next change.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, beforeEach, describe, it } from 'node:test';
import { watchPrefix, type WatchChange, type WatchStreamNotice } from '../../src/client/watch.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import type { LogRecord } from '../../src/watch/store-log.js';
import { sharedBlock, sseFrame } from '../../src/watch/watch-event.js';
import { ServerProcess } from '../helpers/server-process.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';
import { fixedSource } from '../helpers/watch-source.js';

const FIRST: LogRecord[] = [{ kind: 'put', seq: 7, key: Buffer.from('w/a'), value: Buffer.from('one') }];
const SECOND: LogRecord[] = [{ kind: 'put', seq: 8, key: Buffer.from('w/b'), value: Buffer.from('two') }];

const twins: HandlerTwin[] = [];
after(async () => {
  await Promise.all(twins.map((t) => t.stop()));
});

let node = '';
let watches: string[] = [];

beforeEach(async () => {
  watches = [];
  const twin = await startHandlerTwin((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    if (req.url === '/cluster') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(node));
      return;
    }
    const n = watches.push(req.url ?? '');
    if (n === 2) {
      res
        .writeHead(503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: 'STARTING', message: 'node is starting' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(
      sseFrame(
        `{"type":"hello","shards":[0],"elsewhere":{},"cursor":"0:2.${n === 1 ? 6 : 7}"}`,
        'hello',
        '0:2.6',
      ),
    );
    res.write(sharedBlock(n === 1 ? FIRST : SECOND, 0, Buffer.from('w/'), true, 'sse', () => 2));
    // The first stream is cut as a killed node's would be; the third stays open.
    if (n === 1)
      setTimeout(() => {
        res.destroy();
      }, 50);
  });
  twins.push(twin);
  node = twin.address;
});

const view = (c: WatchChange): string => `${c.type} ${c.key ?? ''} ${c.version ?? ''}`;

describe('watch stream notices', () => {
  it('tells onStream each failed attempt and the return, and resumes exactly', async () => {
    const map = new ShardMap([
      { name: 's0', idx: 0, address: node, replicas: [], slots: { first: 0, last: 16383 } },
    ]);
    const notices: WatchStreamNotice[] = [];
    const changes: WatchChange[] = [];
    const stop = new AbortController();
    const timer = setTimeout(() => {
      stop.abort();
    }, 20000);
    for await (const ev of watchPrefix(fixedSource(map), 'w/', {
      from: '0:2.6',
      signal: stop.signal,
      onStream: (n) => notices.push(n),
    })) {
      changes.push(ev);
      if (changes.length === 2) break;
    }
    clearTimeout(timer);
    assert.deepEqual(changes.map(view), ['put w/a 2.7', 'put w/b 2.8']);
    assert.match(watches[1]!, /from=0%3A2\.7/, 'the reconnect resumes after the last change');
    assert.deepEqual(
      notices.map((n) => `${n.state} ${n.node === node} ${n.shards.join(',')} ${n.attempt}`),
      ['down true 0 1', 'down true 0 2', 'up true 0 2'],
    );
    assert.notEqual(notices[0]?.reason, '');
    assert.match(notices[1]!.reason, /^STARTING: /);
    assert.equal(notices[0]?.retryInMs, 100);
    assert.ok((notices[2]?.downMs ?? -1) >= 0);
  });

  it('a hook that throws does not stop the watch', async () => {
    const map = new ShardMap([
      { name: 's0', idx: 0, address: node, replicas: [], slots: { first: 0, last: 16383 } },
    ]);
    const changes: WatchChange[] = [];
    for await (const ev of watchPrefix(fixedSource(map), 'w/', {
      from: '0:2.6',
      signal: AbortSignal.timeout(20000),
      onStream: () => {
        throw new Error('hook bug');
      },
    })) {
      changes.push(ev);
      if (changes.length === 2) break;
    }
    assert.deepEqual(changes.map(view), ['put w/a 2.7', 'put w/b 2.8']);
  });

  it('`distkv watch` says on stderr once that a stream is down and once that it is back; stdout stays JSON lines', async () => {
    const watch = ServerProcess.spawn(['watch', 'w/', '--url', node, '--from', '0:2.6']);
    const deadline = Date.now() + 20000;
    const lines = (): string[] => watch.stdout.split('\n').filter((l) => l !== '');
    while (lines().length < 2 || !watch.stderr.includes('is back')) {
      assert.ok(Date.now() < deadline, `timed out: stdout ${watch.stdout} stderr ${watch.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    watch.child.kill('SIGINT');
    assert.equal(await watch.waitExit(), 0);
    assert.deepEqual(
      lines().map((l) => (JSON.parse(l) as { key: string }).key),
      ['w/a', 'w/b'],
    );
    const notes = watch.stderr.split('\n').filter((l) => l.startsWith('distkv watch: '));
    assert.equal(notes.length, 2, watch.stderr);
    assert.match(
      notes[0]!,
      /^distkv watch: the stream of shard 0 from 127\.0\.0\.1:\d+ is down \(.+\); reconnecting/,
    );
    assert.match(
      notes[1]!,
      /^distkv watch: the stream of shard 0 is back, from 127\.0\.0\.1:\d+ \(down \d+\.\d s, 2 attempts\)$/,
    );
  });
});
