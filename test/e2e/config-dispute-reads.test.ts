/**
 * Readers of many slots while two nodes' sharding.toml files give some slots different leaders
 * (docs/operations.md, "When the nodes disagree about the config"): node A runs a file of three
 * shards (A, B, A), node B is restarted with one of two (A, B), so 5461-8191 and 10923-16383 are
 * disputed. Scans, watches and backups read whole stores and used to answer from one of the two
 * possible owners: a scan listed A's copy of a disputed slot as complete, a running watch went on
 * without the writes B took, `distkv backup` wrote a file that lacked them, and CLUSTER SLOTS sent
 * cluster clients to slots that answer -TRYAGAIN forever. Now each refuses (503 SLOTS_DISPUTED
 * with Retry-After, RESP -TRYAGAIN, exit 1), a running watch is told to resume (`disputed`), the
 * cluster commands leave the disputed slots out, and what reads only served slots (a prefix with a
 * hash tag) goes on. RANDOMKEY draws from the stores whose slots are all served (it was refused
 * outright), and INFO keyspace and /stats, which tools poll, count as before and mark the disputed
 * slots (they said nothing).
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/failover-model.js';
import { type DisputingFiles, disputingFiles } from '../helpers/dispute-files.js';
import { respOf } from '../helpers/resp.js';
import { RespConn } from '../helpers/resp-conn.js';
import { runCli, type ServerProcess, startConfigNode } from '../helpers/server-process.js';
import { keyInSlots } from '../helpers/slot-keys.js';
import { startTwinServer } from '../helpers/twin-server.js';
import { slotOf } from '../../src/routing/slot.js';

/** EventStream reads a watch's Server-Sent Events as text until it ends or is closed. */
class EventStream {
  text = '';
  ended = false;
  private readonly abort = new AbortController();

  static async open(url: string): Promise<EventStream> {
    const s = new EventStream();
    const r = await fetch(url, { signal: s.abort.signal });
    assert.equal(r.status, 200, `watch ${url}: ${r.status}`);
    void s.pump(r.body!.getReader());
    return s;
  }

  private async pump(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.text += decoder.decode(value, { stream: true });
      }
    } catch {
      // closed by the test
    }
    this.ended = true;
  }

  /** until waits for `pattern` in what the stream sent, for at most `ms`. */
  async until(pattern: RegExp, ms = 15000): Promise<void> {
    await waitFor(
      `${String(pattern)} in the watch stream`,
      () => Promise.resolve(pattern.test(this.text)),
      ms,
    );
  }

  close(): void {
    this.abort.abort();
  }
}

interface ErrorBody {
  error: { code: string; message: string };
}

describe('scans, watches, backups and cluster replies while two nodes dispute slots', () => {
  let f: DisputingFiles;
  const running: ServerProcess[] = [];
  const streams: EventStream[] = [];
  let file = '';
  let everything: EventStream;
  let tagged: EventStream;

  // A leads in both files / B leads in both / A in three but B in two.
  const bothA = keyInSlots(0, 5460);
  const bothB = keyInSlots(8192, 10922);
  const moved = keyInSlots(10923, 16383);
  // Keys under this prefix are all in one slot that both files give A.
  const tagA = `${keyInSlots(0, 5460, (i) => `{t${i}}`)}:`;

  const put = async (node: string, key: string, value: string): Promise<void> => {
    const r = await fetch(`http://${node}/kv/${encodeURIComponent(key)}`, { method: 'PUT', body: value });
    assert.equal(r.status, 204, `PUT ${key} on ${node}`);
  };

  before(async () => {
    f = await disputingFiles('dispute-reads');

    await startConfigNode(f.three, f.a, join(f.dir, 'a-data'), running);
    const agreeing = await startConfigNode(f.three, f.b, join(f.dir, 'b-data'), running);
    await put(f.a, bothA, 'v1');
    await put(f.a, moved, 'v1');
    await put(f.b, bothB, 'v1');
    file = join(f.dir, 'before.backup');
    const backup = await runCli(['backup', file, '--url', f.a]);
    assert.equal(backup.code, 0, backup.stderr);

    everything = await EventStream.open(`http://${f.a}/watch`);
    tagged = await EventStream.open(`http://${f.a}/watch?prefix=${encodeURIComponent(tagA)}`);
    streams.push(everything, tagged);
    await everything.until(/event: hello/);
    await tagged.until(/event: hello/);

    // B comes back with the other file: A refuses the slots the files give different leaders.
    await agreeing.stop();
    running.splice(running.indexOf(agreeing), 1);
    await startConfigNode(f.two, f.b, join(f.dir, 'b-data'), running);
    // Both: B sees A at its start unless A does not answer within PEER_TIMEOUT_MS then, and
    // otherwise only at its next round, 2 s later, while the cases below ask B too.
    for (const [node, other] of [
      [f.a, 'B'],
      [f.b, 'A'],
    ] as const)
      await waitFor(`${node} sees that ${other} disagrees`, async () => {
        const r = (await (await fetch(`http://${node}/cluster`)).json()) as {
          peers: { disputed_slots?: string }[];
        };
        return r.peers[0]?.disputed_slots === '5461-8191,10923-16383';
      });
  });

  after(async () => {
    for (const s of streams) s.close();
    for (const p of running) await p.stop();
    rmSync(f.dir, { recursive: true, force: true });
  });

  it('tells a running watch of a disputed slot to resume, refuses it a new start, and keeps a watch of served slots', async () => {
    // The watch of every key reads A's store of 10923-16383: told to resume, within a heartbeat or two.
    await everything.until(/"type":"resume","reason":"disputed"/);
    await waitFor('the cut watch ends', () => Promise.resolve(everything.ended), 5000);
    const again = await fetch(`http://${f.a}/watch`);
    assert.equal(again.status, 503, 'a new watch of every key is refused');
    assert.equal(again.headers.get('retry-after'), '1');
    const refusedWatch = (await again.json()) as ErrorBody;
    assert.equal(refusedWatch.error.code, 'SLOTS_DISPUTED');
    assert.match(refusedWatch.error.message, /^the watch of shards 0, 2 would read slots 10923-16383, /);
    // The watch of a hash tag both files give A reads one served slot: it goes on.
    await put(f.a, `${tagA}x`, 'after');
    await tagged.until(new RegExp(`"key":"${tagA.replace(/[{}]/g, '\\$&')}x"`));
    assert.equal(tagged.ended, false);
    const metrics = await (await fetch(`http://${f.a}/metrics`)).text();
    assert.match(metrics, /distkv_watch_streams_cut_total\{reason="disputed"\} 1/);
  });

  it('refuses a scan that would read a disputed slot, and answers one whose prefix holds a served slot', async () => {
    for (const node of [f.a, f.b]) {
      const scan = await fetch(`http://${node}/kv`);
      assert.equal(scan.status, 503, `GET /kv on ${node}`);
      assert.equal(scan.headers.get('retry-after'), '1');
      const body = (await scan.json()) as ErrorBody;
      assert.equal(body.error.code, 'SLOTS_DISPUTED');
      assert.match(body.error.message, /would read slots .*5461-8191/);
    }
    const served = await fetch(`http://${f.a}/kv?prefix=${encodeURIComponent(tagA)}`);
    assert.equal(served.status, 200, 'a scan of one served slot is answered');
    const page = (await served.json()) as { items: { key: string }[] };
    assert.deepEqual(
      page.items.map((i) => i.key),
      [`${tagA}x`],
    );
  });

  it('answers SCAN, KEYS and DBSIZE -TRYAGAIN and leaves the disputed slots out of CLUSTER SLOTS and INFO', async () => {
    const resp = await RespConn.open(respOf(f.a));
    try {
      const [scan, keys, dbsize, taggedScan, slots, info] = await resp.send([
        ['SCAN', '0'],
        ['KEYS', '*'],
        ['DBSIZE'],
        ['SCAN', '0', 'MATCH', `${tagA}*`],
        ['CLUSTER', 'SLOTS'],
        ['CLUSTER', 'INFO'],
      ]);
      for (const r of [scan, keys, dbsize]) assert.match(r!, /^-TRYAGAIN \w+ would read slots 10923-16383, /);
      assert.match(
        taggedScan!,
        new RegExp(`^\\*2\\r\\n\\$1\\r\\n0\\r\\n\\*1\\r\\n\\$${tagA.length + 1}\\r\\n`),
      );
      const ranges = [...slots!.matchAll(/\*\d+\r\n:(\d+)\r\n:(\d+)\r\n/g)].map((m) => `${m[1]}-${m[2]}`);
      assert.deepEqual(ranges, ['0-5460', '8192-10922'], 'the disputed slots are left out');
      assert.match(info!, /cluster_state:ok\r\ncluster_slots_assigned:8192\r\ncluster_slots_ok:8192\r\n/);
    } finally {
      resp.close();
    }
  });

  it('draws RANDOMKEY from the stores whose slots are all served, and -TRYAGAIN only when none is', async () => {
    // A serves 0-5460 (both files give it A) and 10923-16383 (disputed): it draws from the first.
    const onA = await RespConn.open(respOf(f.a));
    const onB = await RespConn.open(respOf(f.b));
    try {
      const draws = await onA.send(Array.from({ length: 20 }, () => ['RANDOMKEY']));
      for (const d of draws) {
        const key = /^\$\d+\r\n(.*)\r\n$/s.exec(d)?.[1];
        assert.ok(key !== undefined, `RANDOMKEY answered ${JSON.stringify(d)}`);
        assert.ok(slotOf(key) <= 5460, `${key} is not in a served store`);
      }
      // B's one store (8192-16383 in its file) holds disputed slots: nothing to draw from.
      const [refused] = await onB.send([['RANDOMKEY']]);
      assert.match(
        refused!,
        /^-TRYAGAIN RANDOMKEY \(no key in the stores whose slots are all served\) would read slots 10923-16383, /,
      );
    } finally {
      onA.close();
      onB.close();
    }
  });

  it('counts keys in INFO keyspace and /stats while marking the disputed slots they may miss', async () => {
    const resp = await RespConn.open(respOf(f.a));
    try {
      const [keyspace] = await resp.send([['INFO', 'keyspace']]);
      assert.match(keyspace!, /\r\ndb0:keys=\d+,expires=\d+,avg_ttl=\d+\r\ndisputed_slots:5461\r\n/);
    } finally {
      resp.close();
    }
    const stats = (await (await fetch(`http://${f.a}/stats`)).json()) as {
      stores: { shard: number; keys?: number; disputed_slots?: string }[];
    };
    const byShard = new Map(stats.stores.map((s) => [s.shard, s]));
    assert.equal(byShard.get(0)?.disputed_slots, undefined, 'both files give 0-5460 to A');
    assert.equal(byShard.get(2)?.disputed_slots, '10923-16383');
    assert.equal(typeof byShard.get(2)?.keys, 'number', 'the store is still counted');
  });

  it('fails a backup that meets a disputed slot, and a restore before it writes anything', async () => {
    const late = join(f.dir, 'during.backup');
    const refusedBackup = await runCli(['backup', late, '--url', f.a]);
    assert.equal(refusedBackup.code, 1, refusedBackup.stdout);
    assert.match(
      refusedBackup.stderr,
      /SLOTS_DISPUTED: shard 1 \(shard-1\) was not backed up: .*slots 5461-8191/,
    );
    assert.equal(existsSync(late) || existsSync(`${late}.partial`), false, 'no file is left');

    await put(f.a, bothA, 'v2');
    const restore = await runCli(['restore', file, '--url', f.a, '--force']);
    assert.equal(restore.code, 1, restore.stdout);
    assert.match(restore.stderr, /SLOTS_DISPUTED: the cluster's nodes disagree .*nothing was written/);
    const kept = await fetch(`http://${f.a}/kv/${bothA}`);
    assert.equal(await kept.text(), 'v2', 'the restore wrote nothing, not even the served slots');
  });

  it('refuses a restore whose --url node has not seen the dispute, asking each leader it writes to', async () => {
    // The twin answers /cluster as A does, but as a node that has not reached B since B's restart
    // (as A for up to a peer check, or while it cannot reach B): no dispute in its peers. B, a
    // leader the restore writes to, does see one.
    const doc = (await (await fetch(`http://${f.a}/cluster`)).json()) as { peers: unknown };
    doc.peers = [];
    const unaware = await startTwinServer((url) => (url === '/cluster' ? doc : undefined));
    try {
      await put(f.a, bothA, 'v3');
      const restore = await runCli(['restore', file, '--url', unaware.address, '--force']);
      assert.equal(restore.code, 1, restore.stdout);
      assert.match(
        restore.stderr,
        new RegExp(
          `SLOTS_DISPUTED: the cluster's nodes disagree about the config: ${f.b} refuses slots .*nothing was written`,
        ),
      );
      const kept = await fetch(`http://${f.a}/kv/${bothA}`);
      assert.equal(await kept.text(), 'v3', 'the restore wrote nothing, not even the served slots');
    } finally {
      await unaware.stop();
    }
  });
});
