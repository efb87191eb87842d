/**
 * RESP's /metrics families (src/resp/resp-metrics.ts): commands by name through the real dispatch,
 * error replies by code whichever writer of the reply queue they go through (at the head, behind
 * an unanswered reply, muted), a bounded set of codes, and the exposition prom-client gives.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { validateConfig } from '../../src/config/validate-config.js';
import { ClientPause } from '../../src/resp/client-pause.js';
import { COMMAND_NAMES } from '../../src/resp/command-table.js';
import { dispatch } from '../../src/resp/command-dispatch.js';
import { ReplyQueue } from '../../src/resp/reply-queue.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import type { RespStats } from '../../src/resp/resp-context.js';
import { ErrorCounts, registerRespMetrics } from '../../src/resp/resp-metrics.js';

const args = (...a: string[]): Buffer[] => a.map((s) => Buffer.from(s));

function statsOf(): RespStats {
  return {
    commands: 0,
    connections: 0,
    blocked: 0,
    calls: new Float64Array(COMMAND_NAMES.length),
    errors: new ErrorCounts(),
  };
}

/** connectionOf is a connection with a real reply queue counting into `stats`, for commands that need no store. */
function connectionOf(stats: RespStats): RespConnection {
  const queue = new ReplyQueue(
    () => undefined,
    () => undefined,
    stats.errors,
  );
  const config = validateConfig({ shards: [{ name: 's', idx: 0, address: '127.0.0.1:7001' }] }, '<test>');
  return {
    queue,
    proto: 2,
    authenticated: true,
    inMulti: undefined,
    ctx: { stats, config, draining: () => false, pause: new ClientPause() },
  } as unknown as RespConnection;
}

describe('RESP metrics', () => {
  it('counts commands by name and error replies by code through the real dispatch', () => {
    const stats = statsOf();
    const c = connectionOf(stats);
    for (const cmd of [
      args('PING'),
      args('ping', 'hello'),
      args('ECHO', 'x'),
      args('ECHO'), // arity: counted as echo, and an ERR
      args('NOSUCH', 'a'), // unknown
      args('nosuch'),
      args('SELECT', '1'), // cluster mode: ERR
      args('CLIENT', 'REPLY', 'SKIP'),
      args('ECHO'), // muted by SKIP: still an error the node answered
    ])
      dispatch(c, cmd);
    const calls = Object.fromEntries(
      [...stats.calls].flatMap((n, i) => (n > 0 ? [[COMMAND_NAMES[i]!, n]] : [])),
    );
    assert.deepEqual(calls, { ping: 2, echo: 3, select: 1, client: 1, unknown: 2 });
    assert.deepEqual(Object.fromEntries(stats.errors.byCode), { ERR: 5 });
    assert.equal(stats.errors.total, 5);
  });

  it('counts an error written behind an unanswered reply once', () => {
    const stats = statsOf();
    const c = connectionOf(stats);
    const p = c.queue.later(2, (w) => {
      w.error('MOVED 1 127.0.0.1:7002');
    });
    c.queue.now(2).error("CROSSSLOT Keys in request don't hash to the same slot");
    p.onReply(0, 0, Buffer.alloc(0));
    assert.deepEqual(Object.fromEntries(stats.errors.byCode), { CROSSSLOT: 1, MOVED: 1 });
  });

  it('keeps at most 32 codes, counting the rest and what is not a code as OTHER', () => {
    const e = new ErrorCounts();
    e.addBytes(Buffer.from('ERR unknown command'));
    // 40 codes more: the first 31 are kept (32 with ERR), the other 9 are OTHER.
    for (let i = 0; i < 40; i++)
      e.add(`${String.fromCharCode(65 + (i % 26))}${'X'.repeat(Math.floor(i / 26))} x`);
    e.add('lower case');
    e.addBytes(Buffer.from([0xff, 0x20]));
    e.add('ERR again');
    assert.equal(e.byCode.size, 33);
    assert.equal(e.byCode.get('OTHER'), 9 + 1 + 1);
    assert.equal(e.byCode.get('ERR'), 2);
    assert.equal(e.total, 44);
  });

  it('exposes the four families with the node label', async () => {
    const registry = new Registry();
    const stats = statsOf();
    stats.calls[COMMAND_NAMES.indexOf('get')] = 7;
    stats.calls[COMMAND_NAMES.length - 1] = 2;
    stats.errors.add('TRYAGAIN the store is starting');
    stats.connections = 3;
    registerRespMetrics(registry, () => [{ address: '127.0.0.1:7001', stats, open: 1 }], COMMAND_NAMES);
    const text = await registry.metrics();
    for (const line of [
      'distkv_resp_commands_total{node="127.0.0.1:7001",command="get"} 7',
      'distkv_resp_commands_total{node="127.0.0.1:7001",command="unknown"} 2',
      'distkv_resp_errors_total{node="127.0.0.1:7001",code="TRYAGAIN"} 1',
      'distkv_resp_connections_total{node="127.0.0.1:7001"} 3',
      'distkv_resp_connections_open{node="127.0.0.1:7001"} 1',
    ])
      assert.ok(text.split('\n').includes(line), `${line} in\n${text}`);
    assert.equal(COMMAND_NAMES.at(-1), 'unknown');
  });
});
