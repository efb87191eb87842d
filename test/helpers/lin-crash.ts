/**
 * The crash-restart linearizability scenarios (test/e2e/lin-crash-restart*.test.ts): one `distkv
 * serve` process serving the default layout (4 shards, each leader with its replicas in the same
 * process) in a given durability mode is killed with SIGKILL during lin-load.ts's load and started
 * again on the same config, data directory and ports, with no failover. The clients wait out the
 * restart (`refusedWaitMs` while nothing listens, then 503 STARTING as always), so the loops go on
 * across it; a write in flight at the kill is 'unknown' (history-recorder.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DistkvClient } from '../../src/client/client.js';
import type { Durability } from '../../src/config/schema.js';
import type { LiveMap } from '../../src/routing/live-map.js';
import { LOG_HEADER_BYTES } from '../../src/storage/commit-log-format.js';
import { endOfData } from '../../src/storage/commit-log-reader.js';
import { seedLayout } from './cluster.js';
import { clusterOf } from './failover-model.js';
import { untilRun } from './lin-fault-load.js';
import { marksOf } from './log-marks.js';
import type { TestContext } from 'node:test';
import {
  expectLinearizable,
  figuresOf,
  type HistoryFigures,
  type LinLoad,
  readAll,
  startLinLoad,
} from './lin-load.js';
import { ServerProcess, type ShardLayout, writeConfig } from './server-process.js';

/** REFUSED_WAIT_MS is how long a client's request waits for a killed node to listen again. */
const REFUSED_WAIT_MS = 30_000;
/** CLIENT_TIMEOUT_MS bounds one request (a restart's wait is the client's own, outside it). */
const CLIENT_TIMEOUT_MS = 10_000;
/** START_MS is a restart's budget of its own time (server-process.ts: CPU starvation moves it). */
const START_MS = 30_000;

/** CrashingNode is the one process of the scenario: killed with SIGKILL and restarted in place. */
export class CrashingNode {
  /** server is the running process (a new one after each restart). */
  server: ServerProcess;
  readonly layout: ShardLayout[];
  private readonly dir: string;
  private readonly args: string[];

  private constructor(layout: ShardLayout[], dir: string, args: string[], server: ServerProcess) {
    this.layout = layout;
    this.dir = dir;
    this.args = args;
    this.server = server;
  }

  /**
   * start writes the default layout's config into a fresh temp dir and serves it all from one
   * process in `durability` mode, syncing every `fsyncIntervalMs` in `interval` mode (default: the config's).
   */
  static async start(durability: Durability, fsyncIntervalMs?: number): Promise<CrashingNode> {
    const layout = await seedLayout();
    const dir = mkdtempSync(join(tmpdir(), 'distkv-lin-crash-'));
    const interval = fsyncIntervalMs === undefined ? '' : `fsync_interval_ms = ${fsyncIntervalMs}\n`;
    const config = writeConfig(dir, layout, `[storage]\ndurability = "${durability}"\n${interval}`);
    const args = ['--config', config, '--data-dir', join(dir, 'data'), '--workers', '1'];
    try {
      return new CrashingNode(layout, dir, args, await CrashingNode.spawn(layout, args));
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  private static spawn(layout: ShardLayout[], args: string[]): Promise<ServerProcess> {
    return ServerProcess.start(
      args,
      `http://${layout[0]!.address}/healthz`,
      { DISTKV_LOG_LEVEL: 'warn' },
      START_MS,
    );
  }

  /** leaders are the shards' leader addresses, in shard order. */
  get leaders(): string[] {
    return this.layout.map((s) => s.address);
  }

  /** kill sends SIGKILL and waits for the exit. */
  async kill(): Promise<void> {
    this.server.child.kill('SIGKILL');
    await this.server.waitExit();
  }

  /**
   * powerCut is what a power cut leaves of the killed process's commit log (one worker: `log/w0`):
   * its newest segment zeroed from the offset its last sync mark says was synced
   * (docs/commit-log-format.md, "Sync marks"), as if nothing written after that sync reached the
   * disk. Call it between `kill` and `restart`; returns the segment's name, the cut and its size.
   * For the lossy modes only: with `fsync` the last acknowledged batches may lie past the last mark
   * (no batch laid out after they settled says they were synced), so the cut could take synced bytes.
   */
  powerCut(): { segment: string; cut: number; bytes: number } {
    const logDir = join(this.dir, 'data', 'log', 'w0');
    const segment = readdirSync(logDir)
      .filter((n) => n.endsWith('.log'))
      .sort()
      .pop();
    if (segment === undefined) throw new Error(`${logDir} holds no segment`);
    const path = join(logDir, segment);
    const b = readFileSync(path);
    const cut = Math.max(LOG_HEADER_BYTES, ...marksOf(path).map((m) => m.synced));
    const end = endOfData(b);
    writeFileSync(path, Buffer.concat([b.subarray(0, cut), Buffer.alloc(b.length - cut)]));
    return { segment, cut, bytes: Math.max(0, end - cut) };
  }

  /** restart starts the process again on the same config, data directory and ports. */
  async restart(): Promise<void> {
    this.server = await CrashingNode.spawn(this.layout, this.args);
  }

  /** syncedSeqs gives each leader store's `syncedSeq` (GET /stats) by shard name. */
  async syncedSeqs(): Promise<Map<string, number>> {
    const res = await fetch(`http://${this.leaders[0]!}/stats`);
    const stats = (await res.json()) as { stores: { name: string; role: string; syncedSeq: number }[] };
    return new Map(stats.stores.filter((s) => s.role === 'leader').map((s) => [s.name, s.syncedSeq]));
  }

  /** map is the live map the node serves. */
  async map(): Promise<LiveMap> {
    return (await clusterOf(this.leaders[0]!)).map;
  }

  /** stop stops the process, then removes its directory. */
  async stop(): Promise<void> {
    await this.server.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Kill is one kill -9: when it was sent and when the restarted process answered its health check. */
export interface Kill {
  killedAt: number;
  servedAt: number;
  /** cut is the power cut after it (CrashingNode.powerCut), when the scenario asked for one. */
  cut?: { segment: string; cut: number; bytes: number };
}

/** CrashLoadOptions configure runCrashLoad. */
export interface CrashLoadOptions {
  seed: number;
  keys: readonly string[];
  loops: number;
  /** kills is how many times the node is killed and restarted. */
  kills: number;
  /** opsBetween is how many operations are called before the first kill, between kills and after the last restart. */
  opsBetween: number;
  /** powerCut: after each kill, the commit log is cut back as a power cut would (CrashingNode.powerCut). */
  powerCut?: boolean;
  /** beforeKill runs before kill `k` (0-based), once the load ran its `opsBetween` operations: it may wait for a moment to kill at. */
  beforeKill?: (load: LinLoad, shardOf: ReadonlyMap<string, number>, k: number) => Promise<void>;
  /** afterRestart runs once the node serves again after kill `k` (0-based), before the load is counted on. */
  afterRestart?: (k: number) => Promise<void>;
}

/** CrashRun is what runCrashLoad ran: the load (its history), the kills, and each key's shard index. */
export interface CrashRun {
  load: LinLoad;
  kills: Kill[];
  shardOf: ReadonlyMap<string, number>;
}

/**
 * runCrashLoad runs the lin-load.ts load on `node` (even loops share one client for every leader,
 * odd loops have their own, each loading the map from one leader; every client waits out a
 * restart), kills the node and restarts it `kills` times, each after `opsBetween` more operations,
 * then stops the load and reads every key once (the history's last word).
 */
export async function runCrashLoad(node: CrashingNode, o: CrashLoadOptions): Promise<CrashRun> {
  const options = { refusedWaitMs: REFUSED_WAIT_MS, timeoutMs: CLIENT_TIMEOUT_MS };
  const shared = new DistkvClient({ urls: node.leaders.map((a) => `http://${a}`), ...options });
  const own = Array.from({ length: o.loops }, (_, i) =>
    i % 2 === 0
      ? shared
      : new DistkvClient({ urls: [`http://${node.leaders[i % node.leaders.length]!}`], ...options }),
  );
  const load = startLinLoad({
    seed: o.seed,
    keys: o.keys,
    loops: o.loops,
    opsPerLoop: 100_000,
    clientOf: (i) => own[i]!,
    maxMs: 120_000,
    wShare: 0.3,
  });
  const kills: Kill[] = [];
  let shardOf: Map<string, number>;
  try {
    const map = await shared.topology();
    shardOf = new Map(o.keys.map((k) => [k, map.shardOf(k)]));
    assert.ok(
      new Set(shardOf.values()).size >= 3,
      `the hot keys span shards: ${JSON.stringify([...shardOf])}`,
    );
    await crashAndRestart(node, o, load, shardOf, kills);
    load.stop();
    await load.done;
    await readAll(load.recorder, shared, o.keys);
  } finally {
    load.stop();
    await load.done;
    await Promise.all([...new Set(own)].map((c) => c.close()));
  }
  return { load, kills, shardOf };
}

/** crashAndRestart kills and restarts `node` while `load` runs, each after `opsBetween` more operations, and waits for as many after the last. */
async function crashAndRestart(
  node: CrashingNode,
  o: CrashLoadOptions,
  load: LinLoad,
  shardOf: ReadonlyMap<string, number>,
  kills: Kill[],
): Promise<void> {
  let since = -Infinity;
  for (let k = 0; k < o.kills; k++) {
    await untilRun(load, k === 0 ? 'before the first kill' : `after restart ${k}`, o.opsBetween, since, 10);
    await o.beforeKill?.(load, shardOf, k);
    const killedAt = performance.now();
    await node.kill();
    const cut = o.powerCut === true ? node.powerCut() : undefined;
    await node.restart();
    since = performance.now();
    kills.push({ killedAt, servedAt: since, ...(cut === undefined ? {} : { cut }) });
    await o.afterRestart?.(k);
  }
  await untilRun(load, 'after the last restart', o.opsBetween, since);
}

/** figuresAfterRestarts counts, for each restart, the operations called after it and before the next kill. */
export function figuresAfterRestarts(run: CrashRun): HistoryFigures[] {
  return run.kills.map((k, i) => {
    const until = run.kills[i + 1]?.killedAt ?? Infinity;
    return figuresOf(run.load.recorder.ops.filter((op) => op.call > k.servedAt && op.call < until));
  });
}

/** expectServedAfterRestarts asserts that reads found values and writes were acknowledged after each restart; returns the figures. */
export function expectServedAfterRestarts(run: CrashRun): HistoryFigures[] {
  const after = figuresAfterRestarts(run);
  for (const [k, f] of after.entries())
    assert.ok(
      f.found >= 10 && f.writesOk >= 10,
      `restart ${k + 1} was followed by reads and writes: ${JSON.stringify(f)}`,
    );
  return after;
}

/**
 * expectCrashLinearizable checks `run`'s history with the plain checker (lin-load.ts's
 * expectLinearizable: not trivial either, at least `minOps` operations), `note` told with its
 * figures, and that reads and writes followed each restart.
 */
export function expectCrashLinearizable(
  t: TestContext,
  run: CrashRun,
  seed: number,
  minOps: number,
  note = '',
): void {
  const after = expectServedAfterRestarts(run);
  expectLinearizable(
    t,
    run.load.recorder,
    seed,
    minOps,
    `${note}after each restart ${JSON.stringify(after)}; `,
  );
}
