/**
 * Starting and stopping `distkv serve`: startup lines, refusal on bad config or without native
 * uWS, the seed's 10-address layout in one process, drain on SIGTERM, exit at once on a second signal.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort, freePorts } from '../helpers/ports.js';
import { REPO_ROOT, ServerProcess, startOneNode, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('distkv serve lifecycle', () => {
  it('logs one line per listener and per store, keeps data across a restart, and exits 0 on SIGTERM', async () => {
    const dir = tempDir(after);
    const [p1, p2] = await freePorts(2);
    const config = writeConfig(dir, [
      { address: `127.0.0.1:${p1}`, replicas: [`127.0.0.1:${p2}`] },
      { address: `127.0.0.1:${p1}`, replicas: [`127.0.0.1:${p2}`] },
    ]);
    const args = ['--config', config, '--data-dir', join(dir, 'data')];
    let s = await ServerProcess.start(args, `http://127.0.0.1:${p1}/healthz`);
    // A failed check must not leave the node running: the test file would never end.
    after(() => s.stop());
    const lines = s.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string });
    assert.equal(lines.filter((l) => l.msg.startsWith('listening on')).length, 2);
    assert.equal(lines.filter((l) => l.msg.startsWith('store ')).length, 4);
    assert.equal(
      (await fetch(`http://127.0.0.1:${p1}/kv/persisted`, { method: 'PUT', body: 'yes' })).status,
      204,
    );
    const t0 = Date.now();
    assert.equal(await s.stop(), 0);
    assert.ok(Date.now() - t0 < 5000, 'exits within 5 s');
    s = await ServerProcess.start(args, `http://127.0.0.1:${p1}/healthz`);
    assert.equal(await (await fetch(`http://127.0.0.1:${p1}/kv/persisted`)).text(), 'yes');
    assert.equal(await s.stop(), 0);
  });

  it('refuses a second serve on a port in use and on a data directory in use, naming each', async () => {
    const dir = tempDir(after);
    const [port, other] = await freePorts(2);
    const config = writeConfig(dir, [{ address: `127.0.0.1:${port}` }]);
    const data = join(dir, 'data');
    const first = await ServerProcess.start(
      ['--config', config, '--data-dir', data],
      `http://127.0.0.1:${port}/healthz`,
    );
    try {
      assert.equal(
        (await fetch(`http://127.0.0.1:${port}/kv/owner`, { method: 'PUT', body: 'first' })).status,
        204,
      );
      const same = ServerProcess.spawn(['serve', '--config', config, '--data-dir', data]);
      assert.equal(await same.waitExit(), 1, 'the same command again refuses');
      assert.match(same.stderr, /is in use by another distkv process/);
      const samePort = ServerProcess.spawn([
        'serve',
        '--config',
        config,
        '--data-dir',
        join(dir, 'other-data'),
      ]);
      assert.equal(await samePort.waitExit(), 1);
      assert.match(
        samePort.stderr,
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`),
      );
      const otherDir = join(dir, 'other');
      mkdirSync(otherDir);
      const otherConfig = writeConfig(otherDir, [{ address: `127.0.0.1:${other}` }]);
      const sameData = ServerProcess.spawn(['serve', '--config', otherConfig, '--data-dir', data]);
      assert.equal(await sameData.waitExit(), 1);
      assert.match(
        sameData.stderr,
        new RegExp(`data directory ${data} is in use by another distkv process \\(pid ${first.child.pid}\\)`),
      );
      for (let i = 0; i < 20; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/kv/owner`);
        assert.equal(await r.text(), 'first', 'every connection still reaches the first server');
      }
    } finally {
      first.child.kill('SIGKILL');
      await first.waitExit();
    }
    assert.ok(existsSync(join(data, 'LOCK')), 'kill -9 leaves the lock file behind');
    const again = await ServerProcess.start(
      ['--config', config, '--data-dir', data],
      `http://127.0.0.1:${port}/healthz`,
    );
    try {
      assert.match(again.stdout, /took over the lock .* left by pid \d+/);
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/kv/owner`)).text(), 'first');
    } finally {
      assert.equal(await again.stop(), 0);
    }
    assert.equal(existsSync(join(data, 'LOCK')), false, 'a clean stop removes the lock file');
  });

  it('serves the other stores when one cannot open, and names that store, its file and the cause', async () => {
    const dir = tempDir(after);
    const port = await freePort();
    const node = `127.0.0.1:${port}`;
    const config = writeConfig(dir, [{ address: node }, { address: node }]);
    const data = join(dir, 'data');
    const args = ['--config', config, '--data-dir', data, '--workers', '1'];
    const base = `http://${node}`;
    let s = await ServerProcess.start(args, `${base}/healthz`);
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
    for (const k of keys)
      assert.equal((await fetch(`${base}/kv/${k}`, { method: 'PUT', body: k })).status, 204);
    s.child.kill('SIGKILL'); // the records stay in the worker's commit log
    await s.waitExit();
    // A damaged run of shard-1 alone (the commit log is shared by both stores).
    writeFileSync(join(data, node.replace(':', '_'), 'shard-1', 'runs', '000001.sst'), 'not a run!');

    s = await ServerProcess.start(args, `${base}/healthz`);
    try {
      let served = 0;
      let refused = 0;
      for (const k of keys) {
        const r = await fetch(`${base}/kv/${k}`);
        if (r.status === 200) {
          assert.equal(await r.text(), k);
          served++;
        } else {
          assert.equal(r.status, 503, k);
          const body = (await r.json()) as { error: { code: string; message: string } };
          assert.equal(body.error.code, 'UNAVAILABLE');
          assert.match(
            body.error.message,
            /store shard-1 \(leader on .*\) could not open: .*000001\.sst at offset 0: file is 10 bytes, shorter than a footer/,
          );
          refused++;
        }
      }
      assert.ok(served > 0 && refused > 0, `shard-0 serves (${served}), shard-1 refuses (${refused})`);
      const stats = (await (await fetch(`${base}/stats`)).json()) as {
        stores: { name: string; state?: string; error?: string }[];
      };
      assert.deepEqual(
        stats.stores.map((x) => [x.name, x.state]),
        [
          ['shard-0', 'open'],
          ['shard-1', 'failed'],
        ],
      );
      const cluster = (await (await fetch(`${base}/cluster`)).json()) as {
        shards: { name: string; leader: { state?: string; error?: string } }[];
      };
      assert.equal(cluster.shards[0]!.leader.state, undefined);
      assert.equal(cluster.shards[1]!.leader.state, 'failed');
      assert.match(cluster.shards[1]!.leader.error ?? '', /shorter than a footer/);
      const logged = s.stdout.split('\n').find((l) => l.includes('could not open'));
      assert.ok(logged !== undefined, 'the failure is logged');
      assert.match(logged, /"file":"[^"]*shard-1[^"]*000001\.sst"/);
      assert.match(logged, /"stack":"[^"]*at /, 'with the stack');
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });

  it('finishes in-flight requests when SIGTERM arrives during load', async () => {
    const own = await startOneNode();
    const { server: s, port } = own;
    let ok = 0;
    let refused = 0;
    let bad = 0;
    const load = Array.from({ length: 16 }, async (_, w) => {
      for (let i = 0; i < 200; i++) {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/kv/k${w}-${i}`, { method: 'PUT', body: 'v' });
          if (r.status === 204) ok++;
          else if (r.status === 503) refused++;
          else bad++;
        } catch {
          refused++;
          return;
        }
      }
    });
    // The signal comes once the node answers writes (at most 20 s): a fixed 150 ms stood for that,
    // and a node late to answer the first writes (a loaded machine) had acknowledged none.
    const deadline = Date.now() + 20000;
    while (ok + refused + bad === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    s.child.kill('SIGTERM');
    await Promise.all(load);
    assert.equal(await s.waitExit(), 0);
    assert.ok(ok > 0, 'writes were acknowledged before the signal');
    assert.equal(
      bad,
      0,
      `no request got anything but 204, 503 or a refused connection (ok ${ok}, refused ${refused})`,
    );
    assert.match(s.stdout, /stores closed; stopped/);
    await own.stop();
  });

  it('exits at once on a second signal', async () => {
    const own = await startOneNode();
    own.server.child.kill('SIGINT');
    own.server.child.kill('SIGINT');
    const code = await own.server.waitExit();
    await own.stop();
    assert.ok(code === 0 || code === 1, `exit code ${code}`);
  });

  it("serves the seed's 10-address layout in one process", async () => {
    const dir = tempDir(after);
    const port = await freePort('127.0.0.2');
    const seed = readFileSync(join(REPO_ROOT, 'config', 'sharding.toml'), 'utf8').replaceAll(
      ':8080',
      `:${port}`,
    );
    const config = join(dir, 'sharding.toml');
    writeFileSync(config, seed);
    const s = await ServerProcess.start(
      ['--config', config, '--data-dir', join(dir, 'data')],
      `http://127.0.0.2:${port}/healthz`,
    );
    try {
      const hosts = ['2', '3', '4', '5', '22', '23', '33', '44', '45', '55'].map(
        (h) => `127.0.0.${h}:${port}`,
      );
      for (const h of hosts) assert.equal(await (await fetch(`http://${h}/healthz`)).text(), 'ok', h);
      assert.match(
        await (await fetch(`http://127.0.0.3:${port}/set?key=seed&value=1`)).text(),
        /^Key set successfully on shard \d$/,
      );
      assert.equal(await (await fetch(`http://127.0.0.5:${port}/get?key=seed`)).text(), 'Value: 1');
    } finally {
      await s.stop();
    }
  });

  it('refuses a bad config with the full list of problems and exit code 2, no stack trace', async () => {
    const dir = tempDir(after);
    const config = join(dir, 'bad.toml');
    writeFileSync(
      config,
      '[[shards]]\nname = "a"\nidx = 1\naddress = "nowhere"\n[storage]\ndurability = "yolo"\n',
    );
    const s = ServerProcess.spawn(['serve', '--config', config]);
    assert.equal(await s.waitExit(), 2);
    assert.match(s.stderr, /shards\[0\]\.address: "nowhere": expected "host:port"/);
    assert.match(s.stderr, /storage\.durability: expected one of/);
    assert.match(s.stderr, /no shard has idx 0/);
    assert.doesNotMatch(s.stderr, /at .*\.js:\d+/);
  });

  it('prints usage for --help and for unknown options', async () => {
    const help = ServerProcess.spawn(['serve', '--help']);
    assert.equal(await help.waitExit(), 0);
    assert.match(help.stdout, /Usage: distkv serve/);
    const bad = ServerProcess.spawn(['serve', '--colour', 'red']);
    assert.equal(await bad.waitExit(), 2);
    assert.match(bad.stderr, /unknown option --colour/);
  });
});
