/**
 * EpochStarts: where each promoted leader's own epoch really starts (docs/failover.md, "Where an
 * epoch starts"; docs/wal-format.md, "Epoch history").
 *
 * The live map gives each epoch the first seq its promoter read from the target. Every promotion
 * path holds the target's following before it reads that position (`distkv failover`, the etcd
 * campaign), but a target whose hold ran out before the map arrived (or promoted by a map made
 * without a hold) may have applied more of its old leader's records. They carry the old epoch in
 * its log; its own records start after them. Its pulls are then answered with its epoch starting
 * there (`place`), so the (epoch, seq) a replica names is checked against what this log holds.
 *
 * That start is kept in the store directory, `epoch-start.json` = `{"epoch": E, "firstSeq": S}`
 * (replaced durably), and `recall`ed when the store opens as the leader of epoch E again: without
 * it, after a restart the map's start came back, a replica holding the same records as the leader
 * was told it diverged (its records saved to a divergence file, itself rebuilt) and records went
 * out labelled with an epoch their log frames do not have. A resync removes the file with the
 * directory; a store leading another epoch ignores it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { EpochStart } from '../routing/live-map.js';
import type { StoreSpec } from '../worker/messages.js';
import { writeDurableJson } from './durable-json.js';
import { epochsOf, type ShardEpochs, withEpochStart } from './epochs.js';

/** EPOCH_START_FILE names the file in a store directory. */
export const EPOCH_START_FILE = 'epoch-start.json';

/** EpochStarts holds the corrected epoch starts of one worker's leader stores, by store index. */
export class EpochStarts {
  private readonly starts = new Map<number, EpochStart>();
  private readonly log: Logger | undefined;

  constructor(log: Logger | undefined) {
    this.log = log;
  }

  /**
   * place: store `index` was just promoted (`spec`: its new spec) and its log is final, ending at
   * `last`. When that is at or above the first seq the map gives its epoch, the epoch starts after it.
   */
  place(index: number, spec: StoreSpec, last: number | undefined): void {
    this.starts.delete(index);
    const epochs = epochsOf(spec);
    const mapped = mappedStart(epochs);
    if (mapped === undefined || last === undefined || last < mapped) return;
    const start = { epoch: epochs.epoch, firstSeq: last + 1 };
    writeDurableJson(join(spec.dir, EPOCH_START_FILE), start);
    this.starts.set(index, start);
    this.log?.warn(
      { shard: spec.shard.name, node: spec.node, epoch: epochs.epoch, mapped, start: last + 1 },
      `store ${spec.shard.name} on ${spec.node} leads epoch ${epochs.epoch}, which the map starts at seq ${mapped}, but it already holds the old leader's records up to seq ${last}: its epoch starts at seq ${last + 1}`,
    );
  }

  /** recall restores, when leader store `index` opens, the start `place` kept for the epoch it leads. */
  recall(index: number, spec: StoreSpec): void {
    const epochs = epochsOf(spec);
    const mapped = mappedStart(epochs);
    const kept = readKept(spec.dir);
    if (mapped === undefined || kept?.epoch !== epochs.epoch || kept.firstSeq <= mapped) return;
    this.starts.set(index, kept);
  }

  /** forget drops store `index`'s start (its role changes). */
  forget(index: number): void {
    this.starts.delete(index);
  }

  /** of is what leader store `index` answers pulls with: its shard's epochs, its own starting where its log says. */
  of(index: number, spec: StoreSpec): ShardEpochs {
    const start = this.starts.get(index);
    const epochs = epochsOf(spec);
    return start?.epoch === epochs.epoch ? withEpochStart(epochs, start.firstSeq) : epochs;
  }
}

function mappedStart(epochs: ShardEpochs): number | undefined {
  return epochs.history.find((e) => e.epoch === epochs.epoch)?.firstSeq;
}

/** readKept reads what `place` kept in store directory `dir`, or undefined when there is none. */
function readKept(dir: string): EpochStart | undefined {
  const file = join(dir, EPOCH_START_FILE);
  if (!existsSync(file)) return undefined;
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { epoch?: unknown; firstSeq?: unknown };
  return Number.isSafeInteger(doc.epoch) && Number.isSafeInteger(doc.firstSeq)
    ? { epoch: doc.epoch as number, firstSeq: doc.firstSeq as number }
    : undefined;
}
