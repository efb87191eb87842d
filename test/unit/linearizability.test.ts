/**
 * The linearizability checker (test/helpers/linearizability.ts) must accept every history a
 * register can give and refuse the ones it cannot: hand-made histories for each rule, then seeded
 * random ones made by running a model register with overlapping calls (linearizable by
 * construction: each op takes effect at an instant inside its interval), which must pass, and the
 * same with one answer changed to something no order gives, which must fail. DISTKV_SEED replays.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkHistory,
  compareVersions,
  type Op,
  type OpInput,
  type OpOutput,
} from '../helpers/linearizability.js';
import { failover, found, get, ok, op, put, unknown } from '../helpers/history-builders.js';
import { seededRandom, testSeed } from '../helpers/random.js';

describe('linearizability checker: hand-made histories', () => {
  it('accepts a sequential history and refuses a read of the value before the last write', () => {
    const h = [
      op(0, 1, put('a'), ok('0.1')),
      op(2, 3, put('b'), ok('0.2')),
      op(4, 5, get, found('b', '0.2')),
    ];
    assert.equal(checkHistory(h).ok, true);
    const stale = [...h.slice(0, 2), op(4, 5, get, found('a', '0.1'))];
    const v = checkHistory(stale);
    assert.ok(!v.ok);
    assert.match(v.report, /get -> found "a" @0.1/);
  });

  it('lets a read concurrent with a write see either value, but not the old one after the new', () => {
    const base = [op(0, 1, put('a'), ok('0.1')), op(2, 10, put('b'), ok('0.2'))];
    assert.equal(checkHistory([...base, op(3, 4, get, found('a', '0.1'))]).ok, true);
    assert.equal(checkHistory([...base, op(3, 4, get, found('b', '0.2'))]).ok, true);
    // Read b, then a later read (starting after the first ended) sees a: no order gives that.
    const flip = [...base, op(3, 4, get, found('b', '0.2')), op(5, 6, get, found('a', '0.1'))];
    assert.equal(checkHistory(flip).ok, false);
  });

  it('refuses two compare-and-sets from the same version that both succeed', () => {
    const h = [
      op(0, 1, put('a'), ok('0.1')),
      op(2, 5, put('b', { ifMatch: '0.1' }), ok('0.2')),
      op(2, 5, put('c', { ifMatch: '0.1' }), ok('0.3')),
    ];
    assert.equal(checkHistory(h).ok, false);
    const oneFails = [
      ...h.slice(0, 2),
      op(2, 5, put('c', { ifMatch: '0.1' }), { kind: 'failed', current: '0.2' }),
    ];
    assert.equal(checkHistory(oneFails).ok, true);
    // A 412 naming a version the key never had at any point it could go.
    const wrongCurrent = [
      ...h.slice(0, 2),
      op(6, 7, put('c', { ifMatch: '0.1' }), { kind: 'failed', current: '0.1' }),
    ];
    assert.equal(checkHistory(wrongCurrent).ok, false);
  });

  it('checks If-None-Match, deletes and what a delete says existed', () => {
    const h = [
      op(0, 1, put('a', { ifNoneMatch: true }), ok('0.1')),
      op(2, 3, put('b', { ifNoneMatch: true }), { kind: 'failed', current: '0.1' }),
      op(4, 5, { kind: 'delete' }, { kind: 'ok', existed: true }),
      op(6, 7, get, { kind: 'absent' }),
      op(8, 9, put('c', { ifNoneMatch: true }), ok('0.4')),
    ];
    assert.equal(checkHistory(h).ok, true);
    const saidMissing = h.map((o, i) =>
      i === 2 ? { ...o, output: { kind: 'ok' as const, existed: false } } : o,
    );
    assert.equal(checkHistory(saidMissing).ok, false);
    const createdTwice = h.map((o, i) => (i === 1 ? { ...o, output: ok('0.2') } : o));
    assert.equal(checkHistory(createdTwice).ok, false);
  });

  it('refuses versions that fall as writes follow each other', () => {
    const h = [op(0, 1, put('a'), ok('0.5')), op(2, 3, put('b'), ok('0.4'))];
    assert.equal(checkHistory(h).ok, false);
    // A new epoch outranks any seq of an older one.
    assert.equal(checkHistory([op(0, 1, put('a'), ok('0.500')), op(2, 3, put('b'), ok('1.3'))]).ok, true);
    assert.ok(compareVersions('1.3', '0.500') > 0);
    assert.ok(compareVersions('0.10', '0.9') > 0);
  });

  it('lets a write whose outcome is unknown take effect at any later point, or never', () => {
    const lost = { kind: 'unknown' } as const;
    const base = [op(0, 1, put('a'), ok('0.1')), op(2, 3, put('b'), lost)];
    // Never applied.
    assert.equal(checkHistory([...base, op(10, 11, get, found('a', '0.1'))]).ok, true);
    // Applied long after its call: seen late, with the version the read names.
    assert.equal(
      checkHistory([...base, op(10, 11, get, found('a', '0.1')), op(20, 21, get, found('b', '0.7'))]).ok,
      true,
    );
    // But once seen, not unseen.
    const unseen = [...base, op(10, 11, get, found('b', '0.7')), op(20, 21, get, found('a', '0.1'))];
    assert.equal(checkHistory(unseen).ok, false);
    // Nor seen before its call.
    assert.equal(checkHistory([op(0, 1, get, found('b', '0.7')), op(2, 3, put('b'), lost)]).ok, false);
  });

  it('refuses a value nobody wrote and checks keys apart', () => {
    assert.equal(checkHistory([op(0, 1, get, found('x', '0.1'))]).ok, false);
    const twoKeys = [op(0, 1, put('a'), ok('0.1'), 'k1'), op(2, 3, get, { kind: 'absent' }, 'k2')];
    assert.equal(checkHistory(twoKeys).ok, true);
  });

  it('checks reads without versions (RESP) by their values, which name the writes', () => {
    const seen = (value: string): OpOutput => ({ kind: 'found', value });
    const nx = put('c', { ifNoneMatch: true });
    // SET a, SET b overlapping a GET that saw a; SET NX refused; a DEL that found the key; SET NX
    // then created; a timed-out SET seen late or never.
    const h = [
      op(0, 1, put('a'), ok()),
      op(2, 6, put('b'), ok()),
      op(3, 4, get, seen('a')),
      op(7, 8, get, seen('b')),
      op(9, 10, nx, { kind: 'failed' }),
      op(11, 12, { kind: 'delete' }, { kind: 'ok', existed: true }),
      op(13, 14, get, { kind: 'absent' }),
      op(15, 16, nx, ok()),
      op(17, 18, put('d'), { kind: 'unknown' }),
      op(19, 20, get, seen('c')),
      op(21, 22, get, seen('d')),
    ];
    assert.equal(checkHistory(h).ok, true);
    // The old value read after a read of the new one (both answered without versions).
    const stale = [...h.slice(0, 4), op(8.5, 8.8, get, seen('a'))];
    const v = checkHistory(stale);
    assert.ok(!v.ok);
    assert.match(v.report, /get -> found "a"$/m);
    // A SET NX acknowledged while the key held b; the timed-out write unseen once seen.
    const created = h.map((o, i) => (i === 4 ? { ...o, output: ok() } : o));
    assert.equal(checkHistory(created).ok, false);
    assert.equal(checkHistory([...h, op(23, 24, get, seen('c'))]).ok, false);
  });
});

describe('linearizability checker: a failover that forks the log', () => {
  it('lets reads before the failover see unacknowledged writes above the fork, which it undoes', () => {
    const before = [
      op(0, 1, put('a'), ok('0.1')),
      op(2, 3, put('b'), unknown),
      op(4, 5, get, found('b', '0.2')),
      op(6, 7, put('c', { ifMatch: '0.1' }), { kind: 'failed', current: '0.2' }),
    ];
    const after = [
      op(30, 31, get, found('a', '0.1')),
      op(32, 33, put('d'), ok('5.2')),
      op(34, 35, get, found('d', '5.2')),
    ];
    // Without the failover, b seen then gone is a violation.
    assert.equal(checkHistory([...before, ...after]).ok, false);
    const v = checkHistory([...before, failover(10, 20, '0.1'), ...after]);
    assert.ok(v.ok, v.ok ? '' : v.report);
    // A delete above the fork is undone too.
    const lostDelete = [
      op(0, 1, put('a'), ok('0.1')),
      op(2, 3, { kind: 'delete' }, unknown),
      op(4, 5, get, { kind: 'absent' }),
      failover(10, 20, '0.1'),
      op(30, 31, get, found('a', '0.1')),
    ];
    assert.equal(checkHistory(lostDelete).ok, true);
  });

  it('refuses an acknowledged write that the failover lost', () => {
    const h = [
      op(0, 1, put('a'), ok('0.1')),
      op(2, 3, put('b'), ok('0.2')),
      failover(10, 20, '0.1'),
      op(30, 31, get, found('a', '0.1')),
    ];
    const v = checkHistory(h);
    assert.ok(!v.ok);
    assert.match(v.report, /put "b" -> ok @0\.2/);
    // A delete's answer names no version: acknowledged, it cannot be the first write above the fork either.
    const deleted = [
      op(0, 1, put('a'), ok('0.1')),
      op(2, 3, { kind: 'delete' }, { kind: 'ok', existed: true }),
      failover(10, 20, '0.1'),
      op(30, 31, get, found('a', '0.1')),
    ];
    assert.equal(checkHistory(deleted).ok, false);
  });

  it('undoes exactly the writes above the fork: one at or below it stays, one above it goes', () => {
    const h = (fork: string): Op[] => [
      op(0, 1, put('a'), ok('0.1')),
      op(2, 3, put('x'), unknown),
      op(4, 5, get, found('x', '0.2')),
      op(6, 7, put('y'), unknown),
      op(8, 9, get, found('y', '0.3')),
      failover(10, 20, fork),
      op(30, 31, get, found('x', '0.2')),
    ];
    assert.equal(checkHistory(h('0.2')).ok, true);
    // Fork at 0.1: x was above it, so the new leader cannot hold it.
    assert.equal(checkHistory(h('0.1')).ok, false);
    // Fork at 0.3: y was kept, so the new leader cannot show x.
    assert.equal(checkHistory(h('0.3')).ok, false);
  });
});

describe('linearizability checker: reads with a read concern (w >= 1) through a failover', () => {
  const atFork = failover(10, 20, '0.1');
  const replicated: OpInput = { kind: 'get', replicated: true };

  it('refuses a replicated read that saw a value, or an absence, the failover undid', () => {
    const saw = (input: OpInput): Op[] => [
      op(0, 1, put('a'), ok('0.1')),
      op(2, 3, put('b'), unknown),
      op(4, 5, input, found('b', '0.2')),
      atFork,
      op(30, 31, get, found('a', '0.1')),
    ];
    assert.equal(checkHistory(saw(get)).ok, true, 'a plain read may see the lost write');
    const v = checkHistory(saw(replicated));
    assert.ok(!v.ok, 'a replicated read may not');
    const absent = (input: OpInput): Op[] => [
      op(0, 1, put('a'), ok('0.1')),
      op(2, 3, { kind: 'delete' }, unknown),
      op(4, 5, input, { kind: 'absent' }),
      atFork,
      op(30, 31, get, found('a', '0.1')),
    ];
    assert.equal(checkHistory(absent(get)).ok, true);
    assert.equal(checkHistory(absent(replicated)).ok, false, 'nor an absence a lost delete made');
  });

  it('accepts replicated reads of what the fork kept, before and after the failover', () => {
    const h = [
      op(0, 1, put('a'), ok('0.1')),
      op(2, 3, replicated, found('a', '0.1')),
      // Placed before the lost write: its interval allows it.
      op(4, 9, put('b'), unknown),
      op(5, 6, replicated, found('a', '0.1')),
      atFork,
      op(30, 31, replicated, found('a', '0.1')),
    ];
    const v = checkHistory(h);
    assert.ok(v.ok, v.ok ? '' : v.report);
  });
});

describe('linearizability checker: a crash in a lossy durability mode', () => {
  const crash = (call: number, ret: number, fork: string, lossy: boolean): Op =>
    op(call, ret, { kind: 'failover', fork, ...(lossy ? { lossy: true as const } : {}) }, { kind: 'ok' });

  it('undoes acknowledged writes above the fork, which reads saw, only when marked lossy', () => {
    const h = (lossy: boolean): Op[] => [
      op(0, 1, put('a'), ok('0.1')),
      op(2, 3, put('b'), ok('0.2')),
      op(4, 5, get, found('b', '0.2')),
      op(6, 7, put('c', { ifMatch: '0.1' }), { kind: 'failed', current: '0.2' }),
      op(8, 9, { kind: 'delete' }, { kind: 'ok', existed: true }),
      op(9, 9.5, get, { kind: 'absent' }),
      crash(10, 20, '0.1', lossy),
      op(30, 31, get, found('a', '0.1')),
      op(32, 33, put('d', { ifMatch: '0.1' }), ok('65.2')),
      op(34, 35, get, found('d', '65.2')),
    ];
    const v = checkHistory(h(true));
    assert.ok(v.ok, v.ok ? '' : v.report);
    assert.equal(checkHistory(h(false)).ok, false, 'a failover does not undo acknowledged writes');
  });

  it('keeps every write at or below the fork, and undoes every one above it', () => {
    const h = (fork: string): Op[] => [
      op(0, 1, put('a'), ok('0.1')),
      op(2, 3, put('b'), ok('0.2')),
      op(4, 5, put('c'), ok('0.3')),
      crash(10, 20, fork, true),
      op(30, 31, get, found('b', '0.2')),
    ];
    assert.equal(checkHistory(h('0.2')).ok, true);
    // Fork at 0.1: b was above it, so the restarted store cannot hold it.
    assert.equal(checkHistory(h('0.1')).ok, false);
    // Fork at 0.3: c was kept, so the key cannot read b.
    assert.equal(checkHistory(h('0.3')).ok, false);
    // A delete's answer names no version: it may be at or below the fork (kept) or above it (undone), not both.
    const kept = [
      op(0, 1, put('a'), ok('0.1')),
      op(2, 3, { kind: 'delete' }, { kind: 'ok', existed: true }),
      crash(10, 20, '0.2', true),
      op(30, 31, get, found('a', '0.1')),
    ];
    assert.equal(checkHistory(kept).ok, true, 'undone');
    const absentAfter = [...kept.slice(0, 3), op(30, 31, get, { kind: 'absent' })];
    assert.equal(checkHistory(absentAfter).ok, true, 'kept');
    const both = [...kept, op(32, 33, get, { kind: 'absent' })];
    assert.equal(checkHistory(both).ok, false, 'the key cannot come back and go again without a write');
  });
});

/** randomHistory runs a model register with `clients` overlapping clients; each op takes effect at a random instant inside its interval. */
function randomHistory(rand: () => number, clients: number, perClient: number): Op[] {
  interface Pending {
    op: Op;
    at: number;
  }
  const pending: Pending[] = [];
  let n = 0;
  for (let c = 0; c < clients; c++) {
    let t = rand() * 3;
    for (let j = 0; j < perClient; j++) {
      const call = t + rand() * 2;
      const ret = call + 0.1 + rand() * 6;
      const at = call + (ret - call) * rand();
      const r = rand();
      const input: OpInput =
        r < 0.4
          ? get
          : r < 0.75
            ? put(`v${n++}`)
            : r < 0.9
              ? put(`v${n++}`, { ifMatch: '' })
              : { kind: 'delete' };
      pending.push({ op: { key: 'k', call, ret, input, output: { kind: 'absent' }, client: `c${c}` }, at });
      t = ret;
    }
  }
  // Apply in effect order; a CAS matches the version read by its client's last op (or a stale guess).
  pending.sort((a, b) => a.at - b.at);
  let value: string | null = null;
  let version: string | null = null;
  let seq = 0;
  const lastSeen = new Map<string, string>();
  for (const { op: o } of pending) {
    const i = o.input;
    if (i.kind === 'get') {
      o.output = value === null ? { kind: 'absent' } : found(value, version!);
      if (version !== null && value !== null) lastSeen.set(o.client!, version);
    } else if (i.kind === 'put' && i.ifMatch !== undefined) {
      const guess = lastSeen.get(o.client!) ?? `0.${seq}`;
      o.input = { ...i, ifMatch: guess };
      if (value !== null && version === guess) {
        version = `0.${++seq}`;
        value = i.value;
        o.output = ok(version);
      } else o.output = { kind: 'failed', current: value === null ? null : version };
    } else if (i.kind === 'put') {
      version = `0.${++seq}`;
      value = i.value;
      o.output = ok(version);
    } else {
      o.output = { kind: 'ok', existed: value !== null };
      value = null;
      version = `0.${++seq}`;
    }
  }
  return pending.map((p) => p.op);
}

describe('linearizability checker: seeded random histories', () => {
  it('accepts histories made by a register and refuses them with one read changed', () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    for (let round = 0; round < 40; round++) {
      const h = randomHistory(rand, 2 + Math.floor(rand() * 6), 20 + Math.floor(rand() * 40));
      const v = checkHistory(h);
      assert.equal(v.ok, true, `seed ${seed} round ${round}: ${v.ok ? '' : v.report}`);
      // A read that saw a value no write made.
      const reads = h.filter((o) => o.input.kind === 'get');
      if (reads.length === 0) continue;
      const target = reads[Math.floor(rand() * reads.length)]!;
      const bad = h.map((o) => (o === target ? { ...o, output: found('never-written', '0.999999') } : o));
      assert.equal(checkHistory(bad).ok, false, `seed ${seed} round ${round}: an invented value passed`);
    }
  });

  it('decides a history of 2,000 operations by 8 clients quickly', () => {
    const rand = seededRandom(testSeed());
    const h = randomHistory(rand, 8, 250);
    const t = performance.now();
    assert.equal(checkHistory(h).ok, true);
    assert.ok(performance.now() - t < 20_000);
  });
});
