/**
 * A node under a low open-file limit (`ulimit -n`) keeps files for its stores when clients flood
 * it with connections: it admits only what the limit leaves (and says so at start), refuses the
 * rest with an answer, and writes on a connection it admitted go on while memtables flush. With
 * `server.max_connections` (10000) above the limit, the flood took every descriptor: memtable
 * flushes failed with EMFILE and writes were refused 507 until the clients left, and a new client
 * was dropped without an answer.
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { BIN, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const FILE_LIMIT = 160;
const FLOOD = 300;

/** put writes 1 KiB under `key` on `agent`'s connection and resolves with the status and body (or the error). */
function put(port: number, agent: Agent, key: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method: 'PUT', path: `/kv/${key}`, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => {
        resolve(`${String(res.statusCode)} ${body}`);
      });
    });
    req.on('error', (err) => {
      resolve(`error ${err.message}`);
    });
    // Bounded: a client the node never answers must not hold the test.
    req.setTimeout(5000, () => req.destroy(new Error('no answer within 5 s')));
    req.end('v'.repeat(1024));
  });
}

describe('a node under a low open-file limit, flooded with connections', () => {
  it('refuses the connections over what the limit leaves and keeps writing on the ones it admitted', async () => {
    const dir = tempDir(after);
    const [a, b] = await freePorts(2);
    const config = writeConfig(
      dir,
      [{ address: `127.0.0.1:${a!}`, replicas: [`127.0.0.1:${b!}`] }],
      '[storage]\nmemtable_bytes = 65536\n',
    );
    const node = await ServerProcess.start(
      ['--config', config, '--data-dir', join(dir, 'data'), '--workers', '1'],
      `http://127.0.0.1:${a!}/healthz`,
      {},
      15000,
      ['sh', '-c', `ulimit -n ${FILE_LIMIT} && exec "$0" "$@"`, process.execPath, BIN],
    );
    const flood: Socket[] = [];
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    after(async () => {
      for (const s of flood) s.destroy();
      agent.destroy();
      await node.stop();
    });
    assert.equal(await put(a!, agent, 'before'), '204 ');
    await Promise.all(
      Array.from({ length: FLOOD }, () => {
        const s = connect(a!, '127.0.0.1');
        s.on('error', () => undefined);
        flood.push(s);
        return new Promise((resolve) => s.once('connect', resolve).once('close', resolve));
      }),
    );
    // A new client (a connection of its own) gets an answer that says why, not silence.
    const late = await put(a!, new Agent({ keepAlive: false }), 'late');
    assert.match(late, /^503 .*max number of clients reached .*open-file limit, ulimit -n 160/);
    // 300 KiB of writes: memtables of 64 KiB flush several times, each a new file.
    const answers = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const answer = await put(a!, agent, `k${String(i)}`);
      answers.set(answer, (answers.get(answer) ?? 0) + 1);
    }
    assert.deepEqual([...answers], [['204 ', 300]]);
    // And it said at start what it admits and why.
    assert.match(node.stdout, /the open-file limit \(ulimit -n\) is 160/);
  });
});
