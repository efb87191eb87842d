/**
 * A config edited to name another leader of a shard's same members, on a node whose saved live map
 * (written after any failover in the cluster) still leads it in epoch 0: the map keeps its leader,
 * and the start now says so and names the command that moves the shard
 * (src/server/live-map-file.ts `leaderEdits`). Before, the edit did nothing and nothing said so:
 * `distkv cluster` went on showing the old leader.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { initialLiveMap } from '../../src/routing/live-map.js';
import type { ShardInfo } from '../../src/routing/shard-map.js';
import { LIVE_MAP_FILE, loadLiveMap } from '../../src/server/live-map-file.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.1:7002';
const shard = (idx: number, address: string, replica: string, first: number, last: number): ShardInfo => ({
  name: `shard-${String(idx)}`,
  idx,
  address,
  replicas: [replica],
  slots: { first, last },
});

/** logged loads the live map of a data dir holding `saved` under `config`, with the warnings it logged. */
function logged(saved: unknown, config: ShardInfo[]): { leaders: string[]; warnings: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-leader-edit-'));
  try {
    writeFileSync(join(dir, LIVE_MAP_FILE), JSON.stringify(saved));
    const warnings: string[] = [];
    const log = pino(
      { level: 'warn' },
      {
        write: (line: string) => {
          warnings.push((JSON.parse(line) as { msg: string }).msg);
        },
      },
    );
    const map = loadLiveMap(dir, config, log);
    return { leaders: map.shards.map((s) => s.leader), warnings };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('a config naming another leader than the saved live map', () => {
  const before = [shard(0, A, B, 0, 8191), shard(1, B, A, 8192, 16383)];
  // Version 2: a map saved after a failover somewhere in the cluster (nodes save every map they adopt).
  const saved = { ...initialLiveMap(before), version: 2 };

  it('keeps the map leader of an epoch-0 shard and says how to move it', () => {
    const edited = [shard(0, B, A, 0, 8191), shard(1, B, A, 8192, 16383)];
    const { leaders, warnings } = logged(saved, edited);
    assert.deepEqual(leaders, [A, B]);
    const note = warnings.find((w) => w.includes('shard-0'));
    assert.ok(note !== undefined, `no warning about shard-0: ${JSON.stringify(warnings)}`);
    assert.match(note, /config names 127\.0\.0\.1:7002 as its leader/);
    assert.match(note, /distkv failover --shard shard-0 --to 127\.0\.0\.1:7002/);
  });

  it('says nothing when the config and the map agree', () => {
    assert.deepEqual(logged(saved, before).warnings, []);
  });

  it('says so of a shard whose epochs past 0 its leader started itself after unclean stops', () => {
    const restarted = {
      version: 3,
      shards: [
        {
          ...saved.shards[0]!,
          epoch: 128,
          history: [
            { epoch: 64, firstSeq: 10, restart: true },
            { epoch: 128, firstSeq: 20, restart: true },
          ],
        },
        saved.shards[1]!,
      ],
    };
    const edited = [shard(0, B, A, 0, 8191), shard(1, B, A, 8192, 16383)];
    const { leaders, warnings } = logged(restarted, edited);
    assert.deepEqual(leaders, [A, B]);
    assert.ok(
      warnings.some((w) => /shard-0: the config names 127\.0\.0\.1:7002 as its leader/.test(w)),
      JSON.stringify(warnings),
    );
  });

  it('says nothing of a shard a failover moved, whose configured leader is stale by design', () => {
    const failed = {
      version: 3,
      shards: [
        { ...saved.shards[0]!, leader: B, replicas: [A], epoch: 65, history: [{ epoch: 65, firstSeq: 10 }] },
        saved.shards[1]!,
      ],
    };
    assert.deepEqual(logged(failed, before).warnings, []);
  });
});
