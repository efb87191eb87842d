/**
 * A node started again (after kill -9) over a commit log of some tens of MiB shows how far its
 * replay is while it starts (src/storage/replay-progress.ts, src/server/start-progress.ts): RESP
 * `INFO persistence` says `loading:1` with redis-server's `loading_total_bytes`,
 * `loading_loaded_bytes` and `loading_loaded_perc` (and `loading_eta_seconds` only with a rate
 * measured), GET /cluster says the same in `starting`, the bytes read only rise (the total only
 * falls: the newest segment counts whole until its data's end is read), and once it serves
 * GET /stats says its start replayed all of it: 100%. Before, INFO said only `loading:1` and
 * `loading_start_time`, and nothing told how far a start was.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../helpers/ports.js';
import { nodesFixture, ServerProcess, writeConfig } from '../helpers/server-process.js';

/** RESP_PORT_OFFSET is the RESP listener's port past the HTTP port (the config's default). */
const RESP_PORT_OFFSET = 1000;
/** VALUES of VALUE_BYTES are written before the kill: the log the start replays. */
const VALUES = 48;
const VALUE_BYTES = 1 << 20;
/** SEGMENT_BYTES is the config's `storage.wal_segment_bytes` (its default). */
const SEGMENT_BYTES = 64 << 20;
/** POLL_MS is the time between two looks at the starting node. */
const POLL_MS = 20;

/** Sample is one look at the starting node: INFO's persistence fields, or /cluster's `starting`. */
interface Sample {
  total: number;
  loaded: number;
  perc: number;
  eta?: number;
}

/** RespInfo asks INFO persistence on one raw RESP connection. */
class RespInfo {
  private text = '';
  private readonly socket: Socket;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setEncoding('latin1').on('data', (d: string) => (this.text += d));
    this.socket.on('error', () => undefined);
  }

  async connected(): Promise<void> {
    await once(this.socket, 'connect');
  }

  /** persistence answers the fields of INFO persistence (bounded wait). */
  async persistence(): Promise<Map<string, string>> {
    this.text = '';
    this.socket.write('*2\r\n$4\r\nINFO\r\n$11\r\npersistence\r\n');
    for (let i = 0; i < 400; i++) {
      const m = /^\$(\d+)\r\n/.exec(this.text);
      if (m !== null && this.text.length >= m[0].length + Number(m[1]) + 2) break;
      await sleep(5);
    }
    const fields = new Map<string, string>();
    for (const line of this.text.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
    }
    return fields;
  }

  close(): void {
    this.socket.destroy();
  }
}

describe('a node starting over a large commit log', { timeout: 180000 }, () => {
  const { dir, running } = nodesFixture(after, 'distkv-test-');

  it('shows in INFO and /cluster how far its replay is, rising to 100%', async (t) => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    // The memtable holds every write: a kill -9 leaves them all in the log, to replay.
    const config = writeConfig(
      dir,
      [{ address }],
      `[storage]\nmemtable_bytes = 268435456\nwal_segment_bytes = ${SEGMENT_BYTES}\n`,
    );
    const args = ['--config', config, '--data-dir', join(dir, 'data'), '--workers', '1'];
    const first = await ServerProcess.start(args, `http://${address}/healthz`);
    running.push(first);
    const value = Buffer.alloc(VALUE_BYTES, 'v');
    for (let i = 0; i < VALUES; i++) {
      const r = await fetch(`http://${address}/kv/k${i}`, { method: 'PUT', body: value });
      assert.equal(r.status, 204, `PUT k${i}`);
    }
    first.child.kill('SIGKILL');
    await first.waitExit();

    const again = ServerProcess.spawn(['serve', ...args]);
    running.push(again);
    const info: Sample[] = [];
    const cluster: Sample[] = [];
    let resp: RespInfo | undefined;
    let served = false;
    for (let i = 0; i < 120000 / POLL_MS && !served; i++) {
      assert.equal(again.child.exitCode, null, `the node exited:\n${again.stdout}\n${again.stderr}`);
      try {
        const r = await fetch(`http://${address}/cluster`, { signal: AbortSignal.timeout(2000) });
        const body = (await r.json()) as { starting?: Record<string, number> };
        const s = body.starting;
        if (s === undefined) served = (await fetch(`http://${address}/healthz`)).status === 200;
        else if (s.replay_total_bytes! > 0)
          cluster.push({
            total: s.replay_total_bytes!,
            loaded: s.replay_loaded_bytes!,
            perc: s.replay_loaded_perc!,
            ...(s.replay_eta_seconds === undefined ? {} : { eta: s.replay_eta_seconds }),
          });
        if (resp === undefined) {
          resp = new RespInfo(port + RESP_PORT_OFFSET);
          await resp.connected();
        }
        const f = await resp.persistence();
        if (
          f.get('loading') === '1' &&
          f.has('loading_total_bytes') &&
          f.get('loading_total_bytes') !== '0'
        ) {
          assert.match(
            f.get('loading_loaded_perc')!,
            /^\d+\.\d\d$/,
            'loading_loaded_perc as Redis writes it',
          );
          assert.match(f.get('loading_start_time')!, /^\d+$/);
          info.push({
            total: Number(f.get('loading_total_bytes')),
            loaded: Number(f.get('loading_loaded_bytes')),
            perc: Number(f.get('loading_loaded_perc')),
            ...(f.has('loading_eta_seconds') ? { eta: Number(f.get('loading_eta_seconds')) } : {}),
          });
        }
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        // not listening yet
      }
      if (!served) await sleep(POLL_MS);
    }
    resp?.close();
    assert.ok(served, 'the node serves again');
    t.diagnostic(
      `INFO: ${info.map((s) => `${s.perc}%${s.eta === undefined ? '' : ` eta ${s.eta}s`}`).join(', ')}`,
    );
    t.diagnostic(`/cluster: ${cluster.map((s) => `${s.perc}%`).join(', ')}`);

    const logBytes = VALUES * VALUE_BYTES;
    for (const [what, samples] of [
      ['INFO', info],
      ['/cluster', cluster],
    ] as const) {
      assert.ok(samples.length > 0, `${what} never showed the replay while the node started`);
      const mid = samples.filter((s) => s.loaded < s.total);
      assert.ok(mid.length > 0, `${what} never showed the replay under way: ${JSON.stringify(samples)}`);
      for (const s of samples) {
        // The log's segments: the records, in a segment of SEGMENT_BYTES, and the spare segment
        // filled ahead of need (as far as its paced fill got before the kill: none to whole).
        assert.ok(
          s.total > logBytes && s.total <= logBytes + 2 * SEGMENT_BYTES,
          `${what}: total ${s.total} is the log's`,
        );
        assert.ok(s.loaded <= s.total && s.perc >= 0 && s.perc <= 100, `${what}: ${JSON.stringify(s)}`);
        // A time left, when given, is never 0 (ioredis asks again at once on one) and from a rate.
        if (s.eta !== undefined) assert.ok(s.eta >= 1, `${what}: eta ${s.eta}`);
      }
      for (let i = 1; i < samples.length; i++) {
        assert.ok(samples[i]!.loaded >= samples[i - 1]!.loaded, `${what}: the loaded bytes only rise`);
        // The newest segment counts whole until it is read: then only up to its data's end.
        assert.ok(samples[i]!.total <= samples[i - 1]!.total, `${what}: the total only falls`);
      }
    }

    const stats = (await (await fetch(`http://${address}/stats`)).json()) as {
      node: { replay: Record<string, number> };
    };
    const replay = stats.node.replay;
    assert.equal(
      replay.replay_loaded_perc,
      100,
      `the start replayed all of its log: ${JSON.stringify(replay)}`,
    );
    assert.equal(replay.replay_loaded_bytes, replay.replay_total_bytes);
    assert.ok(replay.replay_total_bytes! > logBytes && replay.replay_total_bytes! <= info.at(-1)!.total);
    assert.equal(replay.workers_replayed, 1);
    assert.equal(replay.replay_eta_seconds, undefined, 'no time left once done');
    for (let i = 0; i < VALUES; i += 7) {
      const r = await fetch(`http://${address}/kv/k${i}`);
      assert.equal(r.status, 200, `k${i} was replayed`);
      assert.equal((await r.arrayBuffer()).byteLength, VALUE_BYTES);
    }
  });
});
