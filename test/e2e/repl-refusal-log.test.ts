/**
 * Replication requests refused for their config (409 CONFIG_MISMATCH) do not flood the log: with no
 * `server.token` anyone can send them, and the node wrote a line per request. Now the first of each
 * peer and request is logged, the rest summed up at most once a minute (src/util/log-throttle.ts;
 * the summary itself is covered by test/unit/log-throttle.test.ts). Every request is still refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { type OwnServer, startOwnServer } from '../helpers/server-process.js';

let node: OwnServer;
let A = '';
let B = '';

before(async () => {
  A = `127.0.0.1:${await freePort()}`;
  B = `127.0.0.1:${await freePort()}`;
  node = await startOwnServer([{ address: A, replicas: [B] }], '', ['--workers', '1']);
});

after(async () => {
  await node.stop();
});

/** refusedLines returns the log lines about refused replica requests, parsed. */
function refusedLines(): { msg: string; replica?: string; refused?: number }[] {
  return node.server.stdout
    .split('\n')
    .filter((l) => l.includes('config mismatch'))
    .map((l) => JSON.parse(l) as { msg: string; replica?: string; refused?: number });
}

/** request sends one replication request with another config's hash; returns its status and error code. */
async function request(path: string, replica: string): Promise<string> {
  const r = await fetch(`http://${A}${path}?shard=0&after=0&replica=${replica}&config=another-config`);
  const body = (await r.json()) as { error: { code: string } };
  return `${r.status} ${body.error.code}`;
}

/** logMarker waits (bounded) until the line of a first refusal from `replica` is in the output read so far. */
async function logMarker(replica: string): Promise<void> {
  assert.equal(await request('/_repl/pull', replica), '409 CONFIG_MISMATCH');
  const deadline = Date.now() + 30_000;
  while (!refusedLines().some((l) => l.replica === replica)) {
    if (Date.now() > deadline) throw new Error(`no log line for ${replica}:\n${node.server.stdout}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

describe('replication requests refused for their config', () => {
  it('are all refused, and logged once per peer and request, not once each', async () => {
    for (let i = 0; i < 200; i++) assert.equal(await request('/_repl/pull', B), '409 CONFIG_MISMATCH');
    for (let i = 0; i < 50; i++) assert.equal(await request('/_repl/snapshot', B), '409 CONFIG_MISMATCH');
    // The node writes a refusal's line before it answers, and its output arrives in order: once a
    // later first refusal's line is here, every earlier line is too.
    await logMarker('marker');
    const lines = refusedLines();
    assert.deepEqual(
      lines.map((l) => `${l.replica} ${l.msg.split(':')[0]}`),
      [`${B} refused a replica pull`, `${B} refused a replica snapshot`, 'marker refused a replica pull'],
      node.server.stdout,
    );
  });
});
