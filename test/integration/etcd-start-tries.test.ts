/**
 * A coordinated node's start says why it is slow, and each of its steps is bounded
 * (src/coordination/start-steps.ts): each failed start try is logged at warn at once, naming the
 * try, the etcd endpoint and the cause, before the error after the last try; a watch creation that
 * never answers fails the try naming that step, as does a reconcile that never ends (naming the
 * part it hangs in: here a worker that never answers); and a lease grant sent into an etcd stalled
 * for less than a tick is answered as it resumes (its deadline is a tick: one call's second made
 * such a stall cost a try and its pause). Before, nothing was logged until every try had failed,
 * and a lease grant, reconcile or watch creation that never answered hung the start without a word.
 *
 * The etcd that never answers is a TCP server that accepts and reads nothing back; the etcd whose
 * watches never answer is a real one (test/helpers/etcd.ts) behind an HTTP/2 proxy that holds every
 * Watch stream and forwards the rest. Skipped only when no etcd binary exists (all but the first).
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { oneShardConfig, testCoordinator } from '../helpers/coordinator.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';

const TTL_MS = 1000;

/** logSink collects a pino logger's lines at warn and above. */
function logSink(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { log: pino({ level: 'warn' }, sink), lines };
}

/** settledWithin resolves with how `p` settled, or 'pending' once `ms` passed first. */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<{ error?: Error } | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'pending'>(
    (r) =>
      (timer = setTimeout(() => {
        r('pending');
      }, ms)),
  );
  const done = p.then(
    () => ({}),
    (error: unknown) => ({ error: error as Error }),
  );
  try {
    return await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** waitForLine waits (bounded) until a line of `lines` matches `re`. */
async function waitForLine(lines: string[], re: RegExp, ms: number): Promise<string | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const line = lines.find((l) => re.test(l));
    if (line !== undefined || Date.now() > deadline) return line;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a coordinated node whose start tries fail', { timeout: 90000 }, () => {
  // The three tries that fail (each waits out its own bounds: 12 s, 9 s and 5 s of timers, little
  // work) run side by side, each with its own etcd or silent server, cluster prefix and log sink:
  // one after the other they held the serial integration tier ~27 s. The stall below runs alone after
  // them, as before: its 1.5 s pause has a deadline (a tick) to keep.
  describe('each try bounded', { concurrency: true }, () => {
    it('logs a warning per failed try, naming it, the endpoint and the cause, before its final error', async () => {
      // Accepts every connection and never answers: etcd hung, or something else on its port.
      const held: Socket[] = [];
      const silent = createServer((s) => held.push(s));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      after(() => {
        for (const s of held) s.destroy();
        silent.close();
      });
      const { log, lines } = logSink();
      const config = oneShardConfig(url, 'start-tries', TTL_MS, '127.0.0.1:7001', ['127.0.0.1:7002']);
      const coordinator = testCoordinator(
        config,
        'start-tries',
        { role: 'leader', node: '127.0.0.1:7001', lastSeq: () => 0 },
        undefined,
        log,
      );
      const started = coordinator.start();
      // Ten tries a tick (250 ms) apart, each bounded: well within 60 s.
      const r = await settledWithin(started, 60000);
      await coordinator.stop();
      assert.notEqual(
        r,
        'pending',
        `start neither succeeded nor failed within 60 s; logged: ${lines.join('')}`,
      );
      assert.ok(r !== 'pending' && r.error !== undefined, 'start failed: no etcd answers');
      const warned = lines.filter((l) => l.includes('start try'));
      assert.equal(warned.length, 9, `one warning per failed try but the last: ${lines.join('')}`);
      warned.forEach((l, i) => {
        const w = JSON.parse(l) as { level: number; msg: string; try: number; of: number };
        assert.equal(w.level, 40, l);
        assert.equal(w.try, i + 1, l);
        assert.equal(w.of, 10, l);
        assert.match(
          w.msg,
          new RegExp(
            `^etcd ${url} \\(coordination\\): start try ${i + 1} of 10 failed: .+; trying again in 250 ms`,
          ),
          l,
        );
        assert.doesNotMatch(w.msg, /failed: ;/, `the cause is named: ${l}`);
      });
      // The grant's cause is its deadline, not etcd3's text of its last retry ("Deadline exceeded
      // after 0.000s, waiting for name resolution").
      assert.match(warned[0] ?? '', /failed: etcd lease grant: no answer within 1000 ms;/, warned[0]);
      // The final error is the one it always was.
      assert.match(
        r.error.message,
        new RegExp(
          `^etcd ${url} \\(coordination\\): 10 tries to take a lease and read the map failed, the first with: `,
        ),
        r.error.message,
      );
      assert.match(
        r.error.message,
        /Start etcd \(or correct coordination\.etcd\) before distkv serve/,
        r.error.message,
      );
    });

    it(
      'fails a try whose reconcile never ends, naming the part it hangs in',
      { skip: etcdMissing() },
      async () => {
        const etcd = await TestEtcd.start();
        after(() => etcd.stop());
        // A replica of a shard without a leader key holds its store at its worker, which never answers.
        const { log, lines } = logSink();
        const config = oneShardConfig(etcd.url, 'start-hung', TTL_MS, '127.0.0.1:7001', ['127.0.0.1:7002']);
        const worker = {
          role: 'replica' as const,
          node: '127.0.0.1:7002',
          lastSeq: () => 0,
          call: () => new Promise<never>(() => undefined),
        };
        const coordinator = testCoordinator(config, 'start-hung', worker, undefined, log);
        const started = coordinator.start();
        started.catch(() => undefined);
        // The first try whose reconcile hung, whichever it is: on a loaded machine a try before it
        // can fail otherwise (the 1 s lease's grant, bounded by 1 s, or the lease expiring), and
        // waiting for try 1 and try 2 by number then read the wrong lines.
        const first = await waitForLine(lines, /start try \d+ of 10 failed: reading the map/, 30000);
        const n = Number(/start try (\d+) of 10/.exec(first ?? '')?.[1]);
        const second =
          first === undefined
            ? undefined
            : await waitForLine(lines, new RegExp(`start try ${n + 1} of 10 failed`), 20000);
        await coordinator.stop();
        const r = await settledWithin(started, 10000);
        assert.ok(
          first !== undefined && second !== undefined,
          `a try whose reconcile hung and the try after it were logged; logged: ${lines.join('')}`,
        );
        assert.match(
          first,
          /failed: reading the map under \/distkv\/start-hung\/ and reconciling did not answer within 4000 ms \(at: holding the replicas of shards without a leader key\)/,
          first,
        );
        // The next try does not run a second reconcile beside the hung one: it waits for it, bounded.
        assert.match(
          second,
          /failed: the reconcile of an earlier try did not answer within 4000 ms \(at: holding the replicas/,
          second,
        );
        assert.ok(r !== 'pending' && r.error !== undefined, 'the stopped start ended with an error');
      },
    );

    it(
      'fails a try whose watch creation never answers, naming the step',
      { skip: etcdMissing() },
      async () => {
        const etcd = await TestEtcd.start();
        after(() => etcd.stop());
        // Forwards every gRPC call to etcd but holds each Watch stream unanswered.
        const upstream = http2.connect(etcd.url);
        upstream.on('error', () => undefined);
        const holding: http2.ServerHttp2Stream[] = [];
        const proxy = http2.createServer();
        proxy.on('stream', (stream, headers) => {
          stream.on('error', () => undefined);
          if (String(headers[':path']).startsWith('/etcdserverpb.Watch/')) {
            holding.push(stream);
            return;
          }
          const up = upstream.request(headers, { endStream: false });
          up.on('error', () => {
            stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
          });
          let trailers: http2.IncomingHttpHeaders | undefined;
          up.on('trailers', (t: http2.IncomingHttpHeaders) => {
            trailers = t;
          });
          up.on('response', (h, flags) => {
            if ((flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0) {
              stream.respond(h, { endStream: true });
              return;
            }
            stream.respond(h, { waitForTrailers: true });
            stream.on('wantTrailers', () => {
              if (trailers !== undefined) stream.sendTrailers(trailers);
              else stream.close();
            });
            up.pipe(stream);
          });
          stream.pipe(up);
        });
        await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
        after(() => {
          for (const s of holding) s.close();
          proxy.close();
          upstream.close();
        });
        const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
        const { log, lines } = logSink();
        const config = oneShardConfig(url, 'start-watch', TTL_MS, '127.0.0.1:7001', ['127.0.0.1:7002']);
        const coordinator = testCoordinator(
          config,
          'start-watch',
          { role: 'leader', node: '127.0.0.1:7001', lastSeq: () => 0 },
          undefined,
          log,
        );
        const started = coordinator.start();
        started.catch(() => undefined);
        // The lease and the reconcile go through the proxy; the watch's bound (4 s) expires first.
        // Whichever try that is: on a loaded machine a try before it can fail otherwise (the 1 s
        // lease's grant, bounded by 1 s, or the lease expiring), and try 1 was then another line.
        const line = await waitForLine(lines, /start try \d+ of 10 failed: creating the watch/, 30000);
        await coordinator.stop();
        const r = await settledWithin(started, 10000);
        assert.ok(
          line !== undefined,
          `a try failed on the watch's creation within 30 s; logged: ${lines.join('')}`,
        );
        const w = JSON.parse(line) as { msg: string };
        assert.match(
          w.msg,
          /failed: creating the watch on \/distkv\/start-watch\/ did not answer within 4000 ms; trying again/,
          line,
        );
        assert.ok(r !== 'pending' && r.error !== undefined, 'the stopped start ended with an error');
      },
    );
  });

  it(
    'waits out an etcd stalled for less than a tick in its lease grant, without a failed try',
    { skip: etcdMissing() },
    async () => {
      const etcd = await TestEtcd.start();
      after(() => etcd.stop());
      // A 40 s lease: a tick, the grant's deadline, is 10 s; etcd stalls (SIGSTOP) for 1.5 s of it
      // (past one call's 1 s deadline, which the grant had before), with room for a loaded machine
      // to wake the test's timer, resume etcd and carry its answer back: with a 16 s lease (a 4 s
      // tick) that room was 2.5 s, and CI starves a process for seconds.
      const { log, lines } = logSink();
      const config = oneShardConfig(etcd.url, 'start-stall', 40000, '127.0.0.1:7001', ['127.0.0.1:7002']);
      const coordinator = testCoordinator(
        config,
        'start-stall',
        { role: 'leader', node: '127.0.0.1:7001', lastSeq: () => 0 },
        undefined,
        log,
      );
      await etcd.pause();
      const started = coordinator.start();
      await new Promise((r) => setTimeout(r, 1500));
      etcd.resume();
      const r = await settledWithin(started, 20000);
      await coordinator.stop();
      assert.deepEqual(r, {}, `started; logged: ${lines.join('')}`);
      assert.equal(
        lines.filter((l) => l.includes('start try')).length,
        0,
        `no try failed: ${lines.join('')}`,
      );
    },
  );
});
