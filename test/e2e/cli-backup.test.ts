/**
 * `distkv backup` and `distkv restore` end to end: a backup of a running two-shard node (with a
 * replica and a token) restored into an empty node with another layout (three shards) holds exactly
 * the same keys and values; backup refuses to replace an existing file unless --force, and to write
 * while another backup to that file may be running (FILE.partial exists); restore refuses
 * a cluster that already holds keys unless --force, and writes nothing from a damaged file. A shard
 * whose leader is down fails the backup naming the shard and its node (it said only "connect
 * ECONNREFUSED" and where to look with DISTKV_DEBUG): test/e2e/cli-backup-leader-down.test.ts,
 * which waits the backup's 30 s for a failover once for both files.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { freePorts } from '../helpers/ports.js';
import { runCli, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const servers: ServerProcess[] = [];
const clients: DistkvClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(servers.map((s) => s.stop()));
});
const dir = tempDir(after);
let source = '';
let target = '';
let small = '';
const TOKEN = 'backup-sekrit';

/** everything returns every key and value of a cluster, in key order. */
async function everything(client: DistkvClient): Promise<[string, string][]> {
  const all: [string, string][] = [];
  for await (const i of client.scan('', { pageSize: 50 })) all.push([i.key, i.value.toString('base64')]);
  return all;
}

async function start(
  name: string,
  shards: { address: string; replicas?: string[] }[],
  extra: string,
): Promise<void> {
  const d = join(dir, name);
  mkdirSync(d);
  const config = writeConfig(d, shards, extra);
  servers.push(
    await ServerProcess.start(
      ['--config', config, '--data-dir', join(d, 'data'), '--workers', '1', '--durability', 'none'],
      `http://${shards[0]!.address}/healthz`,
      { DISTKV_LOG_LEVEL: 'warn' },
    ),
  );
}

before(async () => {
  const [a, b, c, d] = await freePorts(4);
  source = `127.0.0.1:${a}`;
  target = `127.0.0.1:${c}`;
  small = `127.0.0.1:${d}`;
  const replica = `127.0.0.1:${b}`;
  await Promise.all([
    start(
      'source',
      [
        { address: source, replicas: [replica] },
        { address: source, replicas: [replica] },
      ],
      `[server]\ntoken = "${TOKEN}"\n`,
    ),
    start('target', [{ address: target }, { address: target }, { address: target }], ''),
    // A cluster whose value limit is below some of the backup's values.
    start('small', [{ address: small }], '[server]\nmax_value_bytes = 1024\n'),
  ]);
  const writer = new DistkvClient({ urls: [source] });
  clients.push(writer);
  // Values of many sizes and every byte; some keys overwritten and some deleted before the backup.
  const ops = Array.from({ length: 300 }, (_, i) => ({
    op: 'set' as const,
    key: `user:${i}:${'é'.repeat(i % 3)}`,
    value: Buffer.alloc(1 + ((i * 37) % 2000), i % 256),
  }));
  ops.push({ op: 'set', key: 'big', value: Buffer.alloc(100 * 1024, 7) });
  const results = await writer.batch(ops);
  assert.ok(results.every((r) => r.ok));
  for (let i = 0; i < 300; i += 7) await writer.delete(ops[i]!.key);
  for (let i = 1; i < 300; i += 11) await writer.put(ops[i]!.key, `overwritten ${i}`);
});

describe('distkv backup and restore', () => {
  it('needs the token for the snapshot endpoint', async () => {
    const r = await runCli(['backup', join(dir, 'no-token.dkv'), '--url', source]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /UNAUTHORIZED/);
  });

  it('restores a backup of a running node into an empty node with another layout, key for key', async () => {
    const file = join(dir, 'full.dkv');
    const backup = await runCli(['backup', file, '--url', source, '--json'], { DISTKV_TOKEN: TOKEN });
    assert.equal(backup.code, 0, backup.stderr);
    const report = JSON.parse(backup.stdout) as {
      keys: number;
      shards: { consistent: boolean; seq: number }[];
    };
    assert.equal(report.shards.length, 2);
    assert.ok(report.shards.every((s) => s.consistent && s.seq > 0));
    const from = new DistkvClient({ urls: [source] });
    const to = new DistkvClient({ urls: [target] });
    clients.push(from, to);
    const expected = await everything(from);
    assert.equal(report.keys, expected.length);
    const restore = await runCli(['restore', file, '--url', target]);
    assert.equal(restore.code, 0, restore.stderr);
    assert.match(restore.stdout, new RegExp(`restored ${expected.length} keys`));
    assert.deepEqual(await everything(to), expected);
  });

  it('refuses to replace an existing backup FILE unless --force, before copying anything', async () => {
    const file = join(dir, 'older.dkv');
    writeFileSync(file, 'an older backup');
    const r = await runCli(['backup', file, '--url', source], { DISTKV_TOKEN: TOKEN });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${file.replace(/[.]/g, '[.]')} already exists.*--force`));
    assert.equal(readFileSync(file, 'utf8'), 'an older backup');
    assert.equal(existsSync(`${file}.partial`), false);
    const forced = await runCli(['backup', file, '--url', source, '--force'], { DISTKV_TOKEN: TOKEN });
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(readFileSync(file, 'utf8'), 'an older backup');
  });

  it('refuses to write while FILE.partial exists (another backup to FILE), and leaves it alone', async () => {
    const file = join(dir, 'busy.dkv');
    writeFileSync(`${file}.partial`, 'another backup in progress');
    const r = await runCli(['backup', file, '--url', source, '--force'], { DISTKV_TOKEN: TOKEN });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /busy\.dkv\.partial exists: another backup .* may be running/);
    assert.equal(readFileSync(`${file}.partial`, 'utf8'), 'another backup in progress');
    assert.equal(existsSync(file), false);
  });

  it("refuses a backup with values over the target's limit before writing any key, and says what to do", async () => {
    // The target's /cluster tells its limits, so the whole file is checked first; a restore stopped
    // part-way by a node that does not tell them is test/unit/cli-restore-limits.test.ts's.
    const file = join(dir, 'for-small.dkv');
    assert.equal((await runCli(['backup', file, '--url', source], { DISTKV_TOKEN: TOKEN })).code, 0);
    const r = await runCli(['restore', file, '--url', small]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /VALUE_TOO_LARGE: the backup holds \d+ values? over the cluster's limit of 1024 bytes .*nothing was written: restore into a cluster whose nodes take them/,
    );
    const to = new DistkvClient({ urls: [small] });
    clients.push(to);
    assert.equal((await everything(to)).length, 0, 'nothing written');
  });

  it('refuses a cluster that holds keys unless --force, with a code that says so', async () => {
    const file = join(dir, 'full.dkv');
    const again = await runCli(['restore', file, '--url', target]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /CLUSTER_NOT_EMPTY: .*already holds keys .*--force/);
    assert.equal((await runCli(['restore', file, '--url', target, '--force'])).code, 0);
  });

  it('keeps expiries: a restored key expires at its original instant; one that expired since the backup is not written', async () => {
    const from = new DistkvClient({ urls: [source] });
    const to = new DistkvClient({ urls: [target] });
    clients.push(from, to);
    // The short key must be live when the backup copies it and expired when the restore runs. A
    // fixed short TTL races the backup on a loaded machine (the CLI's start and copy can outlast
    // it): the TTL doubles until a backup ends before the key could expire, so the key is in the
    // file, live when copied. Its expiry is at most the put's answer plus its TTL: the restore
    // waits for that.
    let file = '';
    let shortGone = 0;
    let midPut = 0;
    let midTtl = 0;
    for (let ttl = 1500; ; ttl *= 2) {
      assert.ok(ttl <= 24000, 'no backup ended within 24 s of a put: the machine is too slow');
      const putAt = Date.now();
      await from.put('ttl:short', 's', { ttlMs: ttl });
      shortGone = Date.now() + ttl;
      midPut = Date.now();
      // Long enough to outlast the backup, the short key's wait and the restore (about a second each
      // on a loaded machine); the test then waits it out. Present after the restore: a key the
      // restore did not write is gone before its instant, which the last assertion catches.
      midTtl = ttl + 3000;
      await from.put('ttl:mid', 'm', { ttlMs: midTtl });
      file = join(dir, `ttl-${ttl}.dkv`);
      const backup = await runCli(['backup', file, '--url', source], { DISTKV_TOKEN: TOKEN });
      assert.equal(backup.code, 0, backup.stderr);
      if (Date.now() < putAt + ttl) break;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, shortGone + 200 - Date.now())));
    const r = await runCli(['restore', file, '--url', target, '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\(1 more had expired since the backup\)/);
    assert.equal(await to.get('ttl:short'), undefined);
    if (Date.now() < midPut + midTtl - 1000) assert.equal((await to.get('ttl:mid'))?.toString(), 'm');
    const deadline = midPut + midTtl + 15000;
    while ((await to.get('ttl:mid')) !== undefined) {
      assert.ok(Date.now() < deadline, 'the restored key kept no expiry');
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.ok(Date.now() >= midPut + midTtl, 'it expired at its original instant, not before');
  });

  it('writes nothing from a damaged file', async () => {
    const bytes = readFileSync(join(dir, 'full.dkv'));
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = bytes[middle]! ^ 0xff;
    const damaged = join(dir, 'damaged.dkv');
    writeFileSync(damaged, bytes);
    const to = new DistkvClient({ urls: [target] });
    clients.push(to);
    await to.delete('big');
    const r = await runCli(['restore', damaged, '--url', target, '--force']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not a usable backup: the checksum does not match/);
    assert.equal(await to.get('big'), undefined);
  });
});
