/**
 * The connection limit is fitted to the process's open-file limit (src/server/open-file-limit.ts),
 * and refused connections in a flood do not each hold a descriptor for the linger time
 * (src/server/connection-limit.ts).
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { ConnectionLimit, REFUSE_LINGER_MAX } from '../../src/server/connection-limit.js';
import {
  fileReserve,
  fitConnections,
  MIN_CONNECTIONS,
  openFileLimit,
} from '../../src/server/open-file-limit.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max processes             63455                63455                processes
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('the open-file limit', () => {
  it('reads the soft limit on open files from /proc/self/limits, and none when unlimited or missing', () => {
    assert.equal(openFileLimit(LIMITS), 1024);
    assert.equal(openFileLimit(LIMITS.replace('1024 ', 'unlimited')), undefined);
    assert.equal(openFileLimit('Max processes 10 10 processes\n'), undefined);
  });

  it('keeps server.max_connections when the limit has room for it and the stores', () => {
    assert.deepEqual(fitConnections(10000, 65536, 400), { max: 10000 });
    assert.deepEqual(fitConnections(10000, undefined, 400), { max: 10000 });
  });

  it('lowers it to what the limit leaves after the stores, naming the limit and the one that would keep it', () => {
    const reserve = fileReserve({ stores: 8, workers: 1, maxRuns: 4, refusing: 64 });
    const fit = fitConnections(10000, 1024, reserve);
    assert.equal(fit.max, 1024 - reserve);
    assert.ok(fit.max > 500 && fit.max < 1024, String(fit.max));
    assert.match(fit.lowered ?? '', /open-file limit \(ulimit -n\) is 1024/);
    assert.match(fit.lowered ?? '', new RegExp(`raise the limit to ${String(10000 + reserve)} `));
  });

  it('admits a few connections even below what the stores need, and says the stores may fail', () => {
    const fit = fitConnections(10000, 100, 300);
    assert.equal(fit.max, MIN_CONNECTIONS);
    assert.match(fit.lowered ?? '', /stores may fail to open files \(EMFILE\)/);
  });

  it('counts more files for more stores, more runs and more workers', () => {
    const base = { stores: 4, workers: 1, maxRuns: 4, refusing: 64 };
    assert.ok(fileReserve({ ...base, stores: 8 }) > fileReserve(base));
    assert.ok(fileReserve({ ...base, maxRuns: 8 }) > fileReserve(base));
    assert.ok(fileReserve({ ...base, workers: 2 }) > fileReserve(base));
  });
});

describe('refused connections in a flood', () => {
  it(`keep at most ${String(REFUSE_LINGER_MAX)} open after their answer; every client still gets the answer`, async () => {
    const limit = new ConnectionLimit(1);
    const open = new Set<Socket>();
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (s) => {
      open.add(s);
      s.once('close', () => open.delete(s));
      limit.refuse(s, 'refused\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const clients: Socket[] = [];
    try {
      const answers = await Promise.all(
        Array.from({ length: 200 }, () => {
          const c = connect(port, '127.0.0.1');
          clients.push(c);
          let got = '';
          c.setEncoding('utf8').on('data', (d: string) => (got += d));
          c.on('error', () => undefined);
          return new Promise<string>((resolve) => {
            const done = (): void => {
              resolve(got);
            };
            c.once('end', done).once('close', done);
          });
        }),
      );
      assert.equal(answers.filter((a) => a === 'refused\n').length, 200);
      await sleep(100);
      assert.ok(open.size <= REFUSE_LINGER_MAX, `${String(open.size)} refused sockets still open`);
    } finally {
      for (const c of clients) c.destroy();
      server.close();
    }
  });
});
