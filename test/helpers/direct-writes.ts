/**
 * DirectWriters: clients that write to one node directly, as a client that has not learned of a
 * failover does (docs/failover.md, "A paused or partitioned leader"), for the failover tests that
 * check what a former leader acknowledges. Four loops, each its own kind of write, each write a
 * distinct key: HTTP `PUT ?w=1`, HTTP `PUT` with the default write concern (w=0), RESP `SET`
 * (w=0) and RESP `SET` + `WAIT 1` (acknowledged as replicated when WAIT counts a replica). No loop
 * follows a redirect or retries: every answer is recorded as the node gave it, with when it was
 * sent and answered. Bounded by `max` writes per loop, by `maxMs` and by `stop`.
 *
 * `checkDirectWrites` is the model check of the final state: every write acknowledged as
 * replicated is on the final leader, every other acknowledged write is there or in the old
 * leader's divergence file (never silently lost), and no acknowledged key holds another value.
 */
import assert from 'node:assert/strict';
import { RespConn } from './resp-conn.js';
import { respOf } from './resp.js';

/** DirectKind names a loop's kind of write. */
export type DirectKind = 'http-w1' | 'http' | 'resp' | 'resp-wait';

const KINDS: readonly DirectKind[] = ['http-w1', 'http', 'resp', 'resp-wait'];

/** DirectWrite is one write and how the node answered it (`performance.now()` times). */
export interface DirectWrite {
  kind: DirectKind;
  key: string;
  value: string;
  sentAt: number;
  answeredAt: number;
  /** acked: 2xx or +OK. */
  acked: boolean;
  /** replicated: acknowledged as held by a replica (HTTP w=1 2xx, RESP WAIT answering >= 1). */
  replicated: boolean;
  /** refused: a redirect or a refusal to write here (307, 503 SWITCHING_LEADER, -MOVED, -TRYAGAIN). */
  refused: boolean;
  /** answer is the status line or RESP reply, for messages. */
  answer: string;
}

/** ANSWER_MS bounds one write's wait: longer than any pause a test puts the node in. */
const ANSWER_MS = 30_000;
/** PACE_MS spaces a loop's writes (by default), so four loops do not load the 2-core test machines. */
const PACE_MS = 5;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** DirectWriters runs the four loops against `node` until stopped. */
export class DirectWriters {
  readonly writes: DirectWrite[] = [];
  private stopped = false;
  private readonly loops: Promise<void>[];

  constructor(node: string, prefix: string, max = 3000, maxMs = 120_000, paceMs = PACE_MS) {
    const deadline = performance.now() + maxMs;
    this.loops = KINDS.map(async (kind) => {
      let resp: RespConn | undefined;
      for (let i = 0; i < max && !this.stopped && performance.now() < deadline; i++) {
        const key = `${prefix}-${kind}-${String(i).padStart(6, '0')}`;
        const value = `v${String(i)}-${kind}`;
        const sentAt = performance.now();
        let answer: string;
        let acked = false;
        let replicated = false;
        let refused = false;
        try {
          if (kind === 'http' || kind === 'http-w1') {
            const res = await fetch(
              `http://${node}/kv/${key}${kind === 'http-w1' ? '?w=1&timeout_ms=2000' : ''}`,
              {
                method: 'PUT',
                body: value,
                redirect: 'manual',
                signal: AbortSignal.timeout(ANSWER_MS),
              },
            );
            const text = await res.text();
            answer = `${String(res.status)} ${text.slice(0, 120)}`;
            acked = res.status >= 200 && res.status < 300;
            replicated = acked && kind === 'http-w1';
            refused = res.status === 307 || (res.status === 503 && text.includes('SWITCHING_LEADER'));
          } else {
            resp ??= await RespConn.open(respOf(node));
            const cmds: string[][] = [['SET', key, value]];
            if (kind === 'resp-wait') cmds.push(['WAIT', '1', '1000']);
            const [set, wait] = await resp.send(cmds, ANSWER_MS);
            answer = `${set ?? ''}${wait ?? ''}`.replace(/\r\n/g, ' ').trim();
            acked = set === '+OK\r\n';
            replicated = acked && wait !== undefined && /^:[1-9]/.test(wait);
            refused = set !== undefined && /^-(MOVED|TRYAGAIN)/.test(set);
          }
        } catch (err) {
          answer = `error ${(err as Error).message}`;
          resp?.close();
          resp = undefined;
        }
        this.writes.push({
          kind,
          key,
          value,
          sentAt,
          answeredAt: performance.now(),
          acked,
          replicated,
          refused,
          answer,
        });
        await sleep(paceMs);
      }
      resp?.close();
    });
  }

  /** firstRefusal is the earliest time a write was answered with a refusal (Infinity: none yet). */
  firstRefusal(): number {
    return Math.min(...this.writes.filter((w) => w.refused).map((w) => w.answeredAt));
  }

  /** everyKindRefused says every loop has had a write refused. */
  everyKindRefused(): boolean {
    return KINDS.every((k) => this.writes.some((w) => w.kind === k && w.refused));
  }

  /** count is how many writes of each kind were answered so far, and how. */
  count(): string {
    return KINDS.map((k) => {
      const of = this.writes.filter((w) => w.kind === k);
      return `${k}: ${String(of.length)} sent, ${String(of.filter((w) => w.acked).length)} acked, ${String(of.filter((w) => w.replicated).length)} replicated, ${String(of.filter((w) => w.refused).length)} refused`;
    }).join('; ');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
}

/**
 * checkDirectWrites checks `writes` against the final leader's content and the divergence files
 * (`diverged`: the old leader's, and those of replicas that followed it), and answers the
 * acknowledged writes that are not on the leader (lost, and saved in a divergence file).
 * `replicatedMayBeLost` lets a write acknowledged as replicated be lost that way too: a forced
 * failover named past a replica that still followed the old leader (docs/failover.md).
 */
export function checkDirectWrites(
  writes: readonly DirectWrite[],
  leaderDump: ReadonlyMap<string, string>,
  diverged: Buffer,
  replicatedMayBeLost = false,
): DirectWrite[] {
  const lost: DirectWrite[] = [];
  for (const w of writes.filter((x) => x.acked)) {
    const now = leaderDump.get(w.key);
    if (now === w.value) continue;
    assert.ok(
      replicatedMayBeLost || !w.replicated,
      `${w.kind} ${w.key} was acknowledged as replicated (${w.answer}) and the leader holds ${String(now)}`,
    );
    assert.equal(
      now,
      undefined,
      `${w.kind} ${w.key} acknowledged as ${w.value} is overwritten with ${String(now)}`,
    );
    assert.ok(
      diverged.includes(Buffer.from(`${w.key}${w.value}`)),
      `${w.kind} ${w.key} acknowledged (${w.answer}) is neither on the leader nor in the divergence file`,
    );
    lost.push(w);
  }
  return lost;
}
