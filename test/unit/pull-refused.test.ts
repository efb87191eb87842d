/**
 * The refusals of a replica's pulls reach the main thread (docs/operations.md, "When the nodes
 * disagree about the config"): HttpSource tells `refused` the code of each refusal but the
 * protocol's own answers, and a WorkerPool (inline: the same ShardHost a worker thread runs) hands
 * a replica's refusals, with its leader's address, to the callback it was given.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { LeaderAnswerError } from '../../src/replication/http-answer.js';
import { HttpSource } from '../../src/replication/http-source.js';
import { INLINE, WorkerPool } from '../../src/server/worker-pool.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';
import { orphanReplica, testStoreSpec } from '../helpers/worker-host.js';

/** errorAnswer answers `status` with a distkv error body of `code` (and `fork`, for DIVERGED). */
function errorAnswer(res: ServerResponse, status: number, code: string): void {
  const headers = { 'content-type': 'application/json', 'x-distkv-fork-seq': '3' };
  res.writeHead(status, headers).end(JSON.stringify({ error: { code, message: code, fork: 3 } }));
}

/** leaderTwin answers every pull with `answer`. */
function leaderTwin(answer: (res: ServerResponse) => void): Promise<HandlerTwin> {
  return startHandlerTwin((req, res) => {
    req.resume();
    req.on('end', () => {
      answer(res);
    });
  });
}

/** sourceAt is a replica's HttpSource of the leader `twin`, and the codes of the refusals it told. */
function sourceAt(twin: HandlerTwin, configHash?: string): { source: HttpSource; heard: string[] } {
  const heard: string[] = [];
  const source = new HttpSource({
    leader: twin.address,
    shard: 0,
    replica: '127.0.0.1:2',
    token: '',
    scheme: 'http',
    ...(configHash === undefined ? {} : { configHash }),
    refused: (code) => {
      heard.push(code);
    },
  });
  return { source, heard };
}

describe('the refusals of a replica pull', () => {
  const twins: HandlerTwin[] = [];
  after(async () => {
    for (const t of twins) await t.stop();
  });

  /** CASES are a leader's answers (a status, and the code of its distkv error body if any) and the codes told. */
  const CASES: { status: number; code?: string; heard: string[] }[] = [
    { status: 409, code: 'CONFIG_MISMATCH', heard: ['CONFIG_MISMATCH'] },
    { status: 503, code: 'SLOTS_DISPUTED', heard: ['SLOTS_DISPUTED'] },
    { status: 403, code: 'UNKNOWN_REPLICA', heard: ['UNKNOWN_REPLICA'] },
    { status: 409, code: 'DIVERGED', heard: [] },
    { status: 409, code: 'REPLICA_AHEAD', heard: [] },
    { status: 500, heard: [] },
    { status: 204, heard: [] },
  ];
  for (const c of CASES)
    it(`HttpSource tells ${JSON.stringify(c.heard)} on ${c.status} ${c.code ?? '(no distkv error)'}`, async () => {
      const twin = await leaderTwin((res) => {
        if (c.code !== undefined) errorAnswer(res, c.status, c.code);
        else res.writeHead(c.status, { 'x-distkv-leader-seq': '0', 'x-distkv-epoch': '0' }).end();
      });
      twins.push(twin);
      const { source, heard } = sourceAt(twin);
      try {
        await source.pull(0, 1 << 20, 0).catch(() => undefined);
      } finally {
        await source.close();
      }
      assert.deepEqual(heard, c.heard);
    });

  it("HttpSource's refused pull and snapshot fail with the answer's status and code as fields, the message kept", async () => {
    const twin = await leaderTwin((res) => {
      errorAnswer(res, 403, 'UNKNOWN_REPLICA');
    });
    twins.push(twin);
    const { source } = sourceAt(twin);
    try {
      for (const [what, attempt] of [
        ['pull', () => source.pull(0, 1 << 20, 0)],
        ['snapshot', () => source.snapshot()],
      ] as const)
        await assert.rejects(attempt(), (err: unknown) => {
          assert.ok(err instanceof LeaderAnswerError, `${what}: ${String(err)}`);
          assert.equal(err.status, 403);
          assert.equal(err.code, 'UNKNOWN_REPLICA');
          assert.match(
            err.message,
            new RegExp(`^${what} from http://${twin.address} shard 0: HTTP 403 \\{"error"`),
          );
          return true;
        });
    } finally {
      await source.close();
    }
  });

  it('HttpSource names its config and itself in a snapshot request, and tells a refused one', async () => {
    let path = '';
    const twin = await startHandlerTwin((req, res) => {
      path = req.url ?? '';
      req.resume();
      req.on('end', () => {
        errorAnswer(res, 409, 'CONFIG_MISMATCH');
      });
    });
    twins.push(twin);
    const { source, heard } = sourceAt(twin, 'abc123');
    try {
      await assert.rejects(source.snapshot(), /HTTP 409/);
    } finally {
      await source.close();
    }
    assert.equal(path, '/_repl/snapshot?shard=0&replica=127.0.0.1%3A2&config=abc123');
    assert.deepEqual(heard, ['CONFIG_MISMATCH']);
  });

  it("a worker's replica refused CONFIG_MISMATCH reaches the pool's callback, naming its leader", async () => {
    const twin = await leaderTwin((r) => {
      errorAnswer(r, 409, 'CONFIG_MISMATCH');
    });
    twins.push(twin);
    const orphan = orphanReplica(testStoreSpec(tempDir(after, 'distkv-pull-refused-')));
    const spec = { ...orphan, replication: { ...orphan.replication!, leaderAddress: twin.address } };
    const heard: { leader: string; code: string }[] = [];
    const pool = new WorkerPool([[spec]], INLINE, pino({ level: 'silent' }), 'silent', (leader, code) => {
      heard.push({ leader, code });
    });
    await pool.start();
    try {
      const deadline = Date.now() + 10_000;
      while (heard.length === 0) {
        assert.ok(Date.now() < deadline, 'a refusal was heard within 10 s');
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await pool.stop();
    }
    assert.deepEqual(heard[0], { leader: twin.address, code: 'CONFIG_MISMATCH' });
  });
});
