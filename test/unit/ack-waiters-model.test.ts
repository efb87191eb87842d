/**
 * AckWaiters (src/replication/ack-waiters.ts), the `w=N` waits of a leader, against a model: a
 * waiter is answered at the first look at which N acks are at or above its seq, with how many are,
 * or at its timeout with what its count says then; never twice, never early. Seeded: 1..4
 * replicas whose acks move both ways (a replica that resynced acks less), waiters of seqs 0..40
 * with N 1..5 (more than the replicas: only a timeout answers) and timeouts 1..30 ms (so waiters
 * time out out of seq order), time moved on by mock timers. Prints its seed when it fails
 * (DISTKV_SEED replays).
 */
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { AckWaiters, countAtLeast } from '../../src/replication/ack-waiters.js';
import { seededRandom, testSeed } from '../helpers/random.js';

const ROUNDS = 60;
const STEPS = 300;

interface ModelWaiter {
  id: number;
  seq: number;
  n: number;
  deadline: number;
  answer: number | undefined;
}

/** flush lets the answered promises' callbacks run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await Promise.resolve();
}

describe('AckWaiters against a model', () => {
  it('answers each waiter once, at the first look that shows N acks at its seq or at its timeout', async () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const replicas = int(1, 4);
        const acks = Array.from({ length: replicas }, () => int(0, 20));
        const sorted = (): number[] => [...acks].sort((a, b) => b - a);
        const waiters = new AckWaiters();
        const model: ModelWaiter[] = [];
        const got = new Map<number, number[]>();
        let now = 0;
        let id = 0;
        const check = (step: number, what: string): void => {
          for (const w of model) {
            const answers = got.get(w.id) ?? [];
            const want = w.answer === undefined ? [] : [w.answer];
            assert.deepEqual(
              answers,
              want,
              `seed ${seed}, round ${round}, step ${step} (${what}): waiter ${w.id} (seq ${w.seq}, n ${w.n}) got ${JSON.stringify(answers)}, the model ${JSON.stringify(want)}`,
            );
          }
          const live = model.filter((w) => w.answer === undefined).length;
          assert.equal(waiters.size, live, `seed ${seed}, round ${round}, step ${step}: size`);
        };
        for (let step = 0; step < STEPS; step++) {
          const r = rand();
          let what: string;
          if (r < 0.4) {
            const w: ModelWaiter = {
              id: id++,
              seq: int(0, 40),
              n: int(1, 5),
              deadline: 0,
              answer: undefined,
            };
            const timeout = int(1, 30);
            w.deadline = now + timeout;
            what = `add seq ${w.seq} n ${w.n} timeout ${timeout}`;
            // A caller adds a waiter only when its seq is not held by N yet (LeaderState.waitForAcks).
            if (countAtLeast(sorted(), w.seq) >= w.n) continue;
            model.push(w);
            const mine = w.id;
            void waiters
              .add(w.seq, w.n, timeout, () => countAtLeast(sorted(), w.seq))
              .then((acked) => {
                got.set(mine, [...(got.get(mine) ?? []), acked]);
              });
          } else if (r < 0.7) {
            const i = int(0, replicas - 1);
            acks[i] = rand() < 0.8 ? acks[i]! + int(0, 6) : int(0, acks[i]!);
            what = `replica ${i} acks ${acks[i]}, look`;
            waiters.look(sorted());
            for (const w of model)
              if (w.answer === undefined && countAtLeast(sorted(), w.seq) >= w.n)
                w.answer = countAtLeast(sorted(), w.seq);
          } else {
            const ms = int(0, 8);
            what = `${ms} ms pass`;
            now += ms;
            mock.timers.tick(ms);
            for (const w of model)
              if (w.answer === undefined && w.deadline <= now) w.answer = countAtLeast(sorted(), w.seq);
          }
          await flush();
          check(step, what);
        }
        // Every waiter is answered by its timeout at the latest, and none is left behind.
        mock.timers.tick(60);
        await flush();
        for (const w of model) w.answer ??= countAtLeast(sorted(), w.seq);
        check(STEPS, 'the end');
      }
    } finally {
      mock.timers.reset();
    }
  });
});
