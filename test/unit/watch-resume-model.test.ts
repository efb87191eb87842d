/**
 * A watch client that loses its stream at random points and resumes from the last id it holds
 * ends with the store's state (docs/watch.md, "Resuming"): its model is "a watch stream is the
 * log", whatever happens between the client's cursor and now. Over one replica shard's log
 * (test/helpers/watch-node.ts) a seeded run interleaves puts and deletes, the log's retention
 * dropping its oldest records (a resume from before them gets a snapshot, read in pages of two
 * keys while writes go on), failovers that discard the log's newest records (the map names the
 * new epoch first; the replica is rebuilt from the new leader's snapshot some steps later) and
 * the client cutting its stream after any SSE frame, as an EventSource does, resuming with the
 * last id it received. At the end the client's map must be the store's keys under its prefix.
 * Randomized and seeded (DISTKV_SEED replays one run).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFrom, startOf } from '../../src/watch/watch-cursor.js';
import { Watcher } from '../../src/watch/watcher.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { applyEvents, PagedNode, type Rec, sleep, SRC, SseOutput, sseFrames } from '../helpers/watch-node.js';

/** ClientMode is how a client names its position when it resumes. */
type ClientMode = 'library' | 'eventsource';

/** Client is a watch client: its map, the last id it holds, and its current stream. */
class Client {
  readonly state = new Map<string, string>();
  cursor = '0:0.0';
  private out = new SseOutput();
  private w: Watcher | undefined;
  private readonly node: PagedNode;
  private readonly prefix: string;
  log: string[] = [];

  // `library`: a change names its version in the cursor (src/client/watch.ts); `eventsource`: the
  // last id alone, as a browser's EventSource sends it in Last-Event-ID
  private readonly mode: ClientMode;

  constructor(node: PagedNode, prefix: string, mode: ClientMode) {
    this.node = node;
    this.prefix = prefix;
    this.mode = mode;
  }

  connect(): void {
    this.out = new SseOutput();
    this.w = new Watcher([SRC], this.node, this.out, {
      prefix: Buffer.from(this.prefix),
      values: true,
      maxBuffer: 1 << 20,
    });
    this.log.push(`connect ${this.cursor}`);
    this.w.start(new Map([[0, startOf(parseFrom(this.cursor), 0)]]), {});
  }

  /** cut loses the stream after frame `keep(n)` of the n received, applies what came before, and holds its id. */
  cut(keep: (n: number) => number): void {
    this.w?.close();
    const all = sseFrames(this.out.text(), this.cursor);
    const kept = all.slice(0, keep(all.length));
    applyEvents(
      this.state,
      kept.flatMap((f) => (f.event === undefined ? [] : [f.event])),
    );
    this.log.push(
      `cut after ${kept.length}/${all.length}: ${kept.map((f) => (f.event === undefined ? `id:${f.id}` : JSON.stringify(f.event))).join(' ')}`,
    );
    // The client library (src/client/watch.ts) names each change's version in its cursor; an
    // EventSource resumes from the last id alone, which every event carries (docs/watch.md,
    // "Resuming"). When a flush sent one id after its changes, an EventSource cut inside a flush
    // whose records a failover then discarded kept them.
    for (const f of kept) {
      const e = f.event;
      if (
        this.mode === 'library' &&
        e !== undefined &&
        e.snapshot !== true &&
        ['put', 'delete', 'expire'].includes(String(e.type))
      )
        this.cursor = `0:${String(e.version)}`;
      if (f.ownId !== undefined) this.cursor = f.ownId;
    }
  }

  close(): void {
    this.w?.close();
  }

  /** ended tells whether the stream was told to resume. */
  ended(): boolean {
    return this.out.events().some((e) => e.type === 'resume');
  }
}

const KEYS = ['a/1', 'a/2', 'a/3', 'b/1', 'b/2'];

async function run(seed: number, mode: ClientMode): Promise<void> {
  const rand = seededRandom(seed);
  const node = new PagedNode(2);
  const prefix = rand() < 0.5 ? '' : 'a/';
  const client = new Client(node, prefix, mode);
  let epoch = 0;
  // The new leader's state at the fork is taken when the failover happens: retention may drop the
  // replica's records past the fork (those the failover discards) before the rebuild, and a state
  // read then would keep their effect.
  let resyncIn: { fork: number; steps: number; state: Rec[] } | undefined;
  const ops: string[] = [];
  client.connect();
  try {
    for (let step = 0; step < 80; step++) {
      const r = rand();
      if (resyncIn !== undefined && resyncIn.steps-- <= 0) {
        node.log.resync(resyncIn.fork, resyncIn.state);
        ops.push(`resync@${resyncIn.fork}`);
        resyncIn = undefined;
      }
      if (r < 0.55) {
        // The replica takes writes only while it follows a leader (not between a failover and its rebuild).
        if (resyncIn === undefined) {
          const key = KEYS[Math.floor(rand() * KEYS.length)]!;
          const value = rand() < 0.8 ? `v${step}` : undefined;
          node.log.append(key, value);
          ops.push(`${value === undefined ? 'del' : 'put'} ${key}@${node.log.last}`);
        }
      } else if (r < 0.63) {
        const upTo = node.log.oldest - 1 + Math.floor(rand() * (node.log.last - node.log.oldest + 2));
        node.log.trim(upTo);
        ops.push(`trim@${upTo}`);
      } else if (r < 0.68 && resyncIn === undefined) {
        // A failover: the new leader holds the log up to `fork`; the map names its epoch at once.
        const fork = Math.max(node.log.oldest - 1, node.log.last - Math.floor(rand() * 4));
        epoch++;
        node.log.epochStarts.push([epoch, fork + 1]);
        resyncIn = { fork, steps: Math.floor(rand() * 4), state: node.log.stateAt(fork) };
        ops.push(`failover e${epoch}@${fork + 1}`);
      } else if (r < 0.85 || client.ended()) {
        const whole = rand() < 0.4;
        client.cut((n) => (whole ? n : Math.floor(rand() * (n + 1))));
        client.connect();
      }
      if (rand() < 0.5) await sleep(Math.floor(rand() * 6));
    }
    if (resyncIn !== undefined) node.log.resync(resyncIn.fork, resyncIn.state);
    // The last stream catches up (resuming when told to), then the client keeps all it received.
    for (let i = 0; i < 5; i++) {
      await sleep(120);
      client.cut((n) => n);
      client.connect();
    }
    await sleep(120);
    client.cut((n) => n);
  } finally {
    // a run that throws must not leave its stream polling (the test file would never end)
    client.close();
  }
  const want = [...node.log.state()].filter(([k]) => k.startsWith(prefix)).sort();
  assert.deepEqual(
    [...client.state].sort(),
    want,
    `seed ${seed} (DISTKV_SEED replays), ${mode}: the client's state is not the store's\nops: ${ops.join(', ')}\n${client.log.join('\n')}`,
  );
}

/** seeds runs `run` for the test's seeds (one with DISTKV_SEED). */
async function seeds(mode: ClientMode): Promise<void> {
  const fromEnv = process.env.DISTKV_SEED;
  const first = testSeed();
  const all = fromEnv !== undefined && fromEnv !== '' ? [first] : [first, first + 1, first + 2, first + 3];
  for (const seed of all) {
    // (printed first: a run that never ends names its seed too)
    console.log(`watch resume model (${mode}): seed ${seed}`);
    await run(seed, mode);
  }
}

describe('watch resume model', () => {
  it('a client resuming from the last id it holds, across retention, snapshots and failovers, ends with the store state', async () => {
    await seeds('library');
  });

  it('an EventSource resuming from its Last-Event-ID alone, across retention, snapshots and failovers, ends with the store state', async () => {
    await seeds('eventsource');
  });
});
