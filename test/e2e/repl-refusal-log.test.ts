/**
 * Replication requests refused for their config (409 CONFIG_MISMATCH) do not flood the log: with no
 * `server.token` anyone can send them, and the node wrote a line per request. Now the first of each
 * peer and request is logged, the rest summed up at most once a minute (src/util/log-throttle.ts;
 * the summary itself is covered by test/unit/log-throttle.test.ts). Every request is still refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MAX_LOG_KEYS } from '../../src/util/log-throttle.js';
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

/** RefusedLine is a log line about a refused replica request, parsed. */
interface RefusedLine {
  msg: string;
  replica?: string;
  refused?: number;
  other_replicas?: boolean;
}

/** refusedLines returns the log lines about refused replica requests of `of` (the first node by default), parsed. */
function refusedLines(of: OwnServer = node): RefusedLine[] {
  return of.server.stdout
    .split('\n')
    .filter((l) => l.includes('config mismatch'))
    .map((l) => JSON.parse(l) as RefusedLine);
}

/** request sends one replication request with another config's hash to `at` (A by default); returns its status and error code. */
async function request(path: string, replica: string, at = A): Promise<string> {
  const r = await fetch(`http://${at}${path}?shard=0&after=0&replica=${replica}&config=another-config`);
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

/**
 * freshNode is a node of its own (one worker) leading a shard with a replica, started before the
 * tests of the suite that calls it and stopped after them (its process and address).
 */
function freshNode(): { own: OwnServer; at: string } {
  const node = { own: undefined as unknown as OwnServer, at: '' };
  before(async () => {
    node.at = `127.0.0.1:${await freePort()}`;
    node.own = await startOwnServer([{ address: node.at, replicas: [`127.0.0.1:${await freePort()}`] }], '', [
      '--workers',
      '1',
    ]);
  });
  after(async () => {
    await node.own.stop();
  });
  return node;
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

describe('replication requests refused for their config, from more replica names than are tracked', () => {
  const fresh = freshNode();

  it("logs the first refusal past the cap as the start of a shared count, not as one replica's", async () => {
    const { own, at } = fresh;
    // A fresh node: the first MAX_LOG_KEYS names each get a line; the next one opens the key they
    // share, and its line must say so (it read as that replica's, "more from this replica ...").
    const names = Array.from({ length: MAX_LOG_KEYS + 10 }, (_, i) => `n-${i}`);
    for (const n of names) assert.equal(await request('/_repl/pull', n, at), '409 CONFIG_MISMATCH');
    const past = names[MAX_LOG_KEYS]!;
    const deadline = Date.now() + 30_000;
    while (!refusedLines(own).some((l) => l.replica === past)) {
      if (Date.now() > deadline)
        throw new Error(`no log line for ${past}:\n${own.server.stdout.slice(-2000)}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    const lines = refusedLines(own);
    assert.equal(lines.length, MAX_LOG_KEYS + 1, 'one line per tracked name, and one for the shared count');
    assert.ok(
      lines
        .slice(0, MAX_LOG_KEYS)
        .every((l) => l.other_replicas === undefined && l.msg.includes('from this replica')),
    );
    const shared = lines[MAX_LOG_KEYS]!;
    assert.equal(shared.replica, past);
    assert.equal(shared.other_replicas, true, JSON.stringify(shared));
    assert.doesNotMatch(shared.msg, /from this replica/);
    assert.match(shared.msg, /summed up together/);
  });
});

describe('replication requests refused for their config, when the node stops', () => {
  const fresh = freshNode();

  it('writes how many were refused since the last line as it stops, not within the minute only', async () => {
    const { own, at } = fresh;
    // The first refusal is logged, the next four counted; the node stops well within the minute
    // after which the summary would be written: the stop writes it (it was lost).
    for (let i = 0; i < 5; i++) assert.equal(await request('/_repl/pull', 'late', at), '409 CONFIG_MISMATCH');
    assert.equal(await own.server.stop(), 0, own.server.stderr);
    const lines = refusedLines(own).filter((l) => l.replica === 'late');
    assert.deepEqual(
      lines.map((l) => l.refused),
      [undefined, 4],
      own.server.stdout,
    );
    assert.match(lines[1]!.msg, /^refused 4 more replica pulls in the last \d+ s: config mismatch$/);
  });
});
