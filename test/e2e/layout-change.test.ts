/**
 * A node restarted with another layout (docs/operations.md, "Changing the layout"): the keys whose
 * slots moved stay in their old store, where reads no longer look. Before, a scan still listed
 * them, so a key showed in a scan that GET called missing, and once written again under the new
 * layout it showed twice, its old value first (and a backup carried both). Now a store's scan
 * lists only the keys of its shard's slots, and the node says at startup which of its stores
 * changed slots and what to do about the keys left behind. Back under the first layout, every key
 * reads again as it was.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { ServerProcess, writeConfig } from '../helpers/server-process.js';

interface Page {
  items: { key: string; value: string }[];
  next: string | null;
}

describe('a node restarted with its shards split anew', () => {
  let dir = '';
  let address = '';
  let server: ServerProcess | undefined;
  const keys = Array.from({ length: 60 }, (_, i) => `moved:${String(i).padStart(2, '0')}`);

  const start = async (shards: number): Promise<ServerProcess> => {
    const config = writeConfig(
      dir,
      Array.from({ length: shards }, () => ({ address })),
      '[server]\nresp_port_offset = 0',
    );
    server = await ServerProcess.start(
      ['--config', config, '--data-dir', join(dir, 'data'), '--inline'],
      `http://${address}/healthz`,
    );
    return server;
  };
  const scan = async (): Promise<Page> => {
    const r = await fetch(`http://${address}/kv?prefix=moved:&limit=1000`);
    assert.equal(r.status, 200);
    return (await r.json()) as Page;
  };
  const read = async (key: string): Promise<string | undefined> => {
    const r = await fetch(`http://${address}/kv/${key}`);
    return r.status === 404 ? undefined : await r.text();
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'distkv-layout-'));
    address = `127.0.0.1:${await freePort()}`;
  });

  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('scans only what reads see, says which stores changed slots, and reads all again when put back', async () => {
    await start(2);
    for (const k of keys) {
      const r = await fetch(`http://${address}/kv/${k}`, { method: 'PUT', body: `old ${k}` });
      assert.equal(r.status, 204);
    }
    assert.equal(await server!.stop(), 0);

    const three = await start(3);
    const readable = new Map<string, string>();
    for (const k of keys) {
      const v = await read(k);
      if (v !== undefined) readable.set(k, v);
    }
    assert.ok(readable.size < keys.length, 'some keys moved to a shard that does not hold them');
    const moved = keys.find((k) => !readable.has(k))!;
    const put = await fetch(`http://${address}/kv/${moved}`, { method: 'PUT', body: 'new' });
    assert.equal(put.status, 204);
    readable.set(moved, 'new');
    const page = await scan();
    assert.deepEqual(
      page.items.map((i) => [i.key, i.value]),
      [...readable].sort(([a], [b]) => (a < b ? -1 : 1)),
      'the scan lists each key once, with the value a read gives',
    );
    const warnings = three.stdout
      .split('\n')
      .filter((l) => l.includes('"level":40') && l.includes('slots changed'));
    assert.deepEqual(
      warnings.map((l) => (JSON.parse(l) as { shard: string; role: string }).shard).sort(),
      ['shard-0', 'shard-1'],
      `one warning per store whose slots changed:\n${three.stdout}`,
    );
    assert.match(warnings[0]!, /0-8191.*0-5460|8192-16383.*5461-10921/);
    assert.match(warnings[0]!, /purge/);
    assert.equal(await server!.stop(), 0);

    const two = await start(2);
    for (const k of keys) assert.equal(await read(k), `old ${k}`, k);
    assert.equal((await scan()).items.length, keys.length);
    assert.equal(two.stdout.split('\n').filter((l) => l.includes('slots changed')).length, 2);
  });
});
