/**
 * RESP on /metrics (src/resp/resp-metrics.ts, registered by src/server/node.ts): a node's RESP
 * commands by name, its error replies by code and its connections, each under its own `node`
 * label, as operators read them after real traffic on two nodes of one process.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type PromFamily, parseExposition } from '../helpers/prom-parse.js';
import { respOf } from '../helpers/resp.js';
import { exchange, startRespPair } from './resp-wire.js';

function valueOf(f: PromFamily | undefined, labels: Record<string, string>): number | undefined {
  return f?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe('RESP on /metrics', () => {
  let A = '';
  let B = '';
  let stop = (): Promise<void> => Promise.resolve();

  before(async () => {
    ({ A, B, stop } = await startRespPair());
  });

  after(async () => {
    await stop();
  });

  it('counts commands by name, error replies by code and connections, per node', async () => {
    await exchange(respOf(A), [
      ['SET', 'm:1', 'v'],
      ['GET', 'm:1'],
      ['get', 'm:1'],
      ['GET'],
      ['NOSUCH'],
      ['MGET', 'a', 'b'],
    ]);
    await exchange(respOf(B), [['SET', 'm:1', 'v'], ['PING'], ['MGET', 'a', 'b']]);
    const families = parseExposition(await (await fetch(`http://${A}/metrics`)).text());
    const commands = families.get('distkv_resp_commands_total');
    const errors = families.get('distkv_resp_errors_total');
    assert.equal(commands?.type, 'counter');
    assert.equal(valueOf(commands, { node: A, command: 'get' }), 3);
    assert.equal(valueOf(commands, { node: A, command: 'set' }), 1);
    assert.equal(valueOf(commands, { node: A, command: 'mget' }), 1);
    assert.equal(valueOf(commands, { node: A, command: 'unknown' }), 1);
    assert.equal(valueOf(commands, { node: B, command: 'set' }), 1);
    assert.equal(valueOf(commands, { node: B, command: 'ping' }), 1);
    assert.equal(valueOf(errors, { node: A, code: 'ERR' }), 2);
    assert.equal(valueOf(errors, { node: A, code: 'CROSSSLOT' }), 1);
    assert.equal(valueOf(errors, { node: B, code: 'CROSSSLOT' }), 1);
    assert.equal(valueOf(errors, { node: B, code: 'ERR' }), undefined);
    assert.equal(valueOf(families.get('distkv_resp_connections_total'), { node: A }), 1);
    assert.equal(valueOf(families.get('distkv_resp_connections_total'), { node: B }), 1);
    assert.equal(families.get('distkv_resp_connections_open')?.type, 'gauge');
  });
});
