/**
 * A linearizability checker for histories of single-key operations on distkv (docs/api.md,
 * "Versions"): reads, puts and deletes, plain or conditional, each with the time its call started
 * and the time its answer came, as concurrent clients saw them.
 *
 * A history is linearizable when every operation can be given one instant between its call and its
 * answer such that, in the order of those instants, each answer is what one register would have
 * given: a read the last write's value and version, a conditional write applied exactly when its
 * condition held, versions rising with every applied write. Keys are independent registers, so
 * each key's operations are checked alone (a history is linearizable iff each key's is).
 *
 * The search is Wing and Gong's, with Lowe's memo of (operations placed, register state): at each
 * step any operation not placed yet whose call came before every unplaced operation's answer may
 * go next. An operation whose outcome the client does not know (the connection closed after the
 * request was sent, a `w` write answered 504) has no answer time: it may be placed anywhere after
 * its call, or never, and when placed it writes a value whose version is not known until a later
 * read names it. Values must be unique per write (the scenario's writers number them), so a read
 * names the write it saw. So a read may come without a version (a RESP `GET` answers only the
 * value): the value alone names the write, and such a read constrains the value, not the version.
 *
 * A forced or automatic failover (docs/failover.md) is an operation of its own, `failover`, given
 * for each key from the moment the old leader stopped (kill -9, SIGSTOP) to the moment the new
 * leader was seen named; `fork` is the last version the new leader's epoch kept ('E.F': the old
 * epoch and the seq before the new epoch's firstSeq). The old leader applies, and lets readers
 * see, writes its replicas never got: writes the client was not told were acknowledged (an
 * 'unknown' write with `w`), which the failover undoes. So a key with a failover op goes through
 * three phases: before its first write above the fork (every version named then is at or below
 * it), after it until the failover (only 'unknown' writes are applied, all undone, and every
 * version named is above the fork: an 'ok' write there is an acknowledged write lost), and after
 * the failover, from the register as it was at the fork. Reads and 412s answered in the middle
 * phase saw writes that were later lost: that is allowed, and nothing else is; but not for a read
 * with a read concern (`replicated`: sent with `w` ≥ 1, answered once replicas held all the leader
 * had, docs/api.md), which shows nothing a failover undoes, so is never placed in that phase.
 *
 * A crash in a lossy durability mode (`interval`, `none`: a write is acknowledged and shown before
 * its fsync, docs/failover.md "A leader restarting after a crash") is the same op marked `lossy`,
 * its fork the last version the restarted store recovered (its restart epoch's firstSeq - 1): a
 * power cut may take acknowledged writes too, so there an 'ok' write may also be the key's first
 * above the fork (its version says whether it is), and be undone.
 */

/** Op is one operation of a history, as a client called and saw it. */
export interface Op {
  key: string;
  /** call and ret: performance.now() before sending and after the answer; ret is ignored for 'unknown'. */
  call: number;
  ret: number;
  input: OpInput;
  output: OpOutput;
  /** client: who sent it (shown in a report). */
  client?: string;
}

/** ClientOpInput is what a client asked. ifMatch is a version 'E.S' (not '*'). */
export type ClientOpInput =
  | { kind: 'get'; replicated?: true }
  | { kind: 'put'; value: string; ifMatch?: string; ifNoneMatch?: boolean }
  | { kind: 'delete'; ifMatch?: string };

/**
 * OpInput is a client's operation, or a failover (the fork version it keeps a key at). `lossy`
 * marks a crash of a lossy durability mode (a power cut with `interval` or `none`, the restart
 * resuming at its recovered seq, the fork): there the writes it undoes include acknowledged ones.
 */
export type OpInput = ClientOpInput | { kind: 'failover'; fork: string; epoch?: number; lossy?: true };

/**
 * Fault is a key's failover as the search uses it: its fork, whether it is lossy, and the lowest
 * epoch a version above the fork may have after it (the new leader's: the failover op's `epoch`, or
 * at least one above the fork's). The old leader's versions above the fork are lost with it.
 */
interface Fault {
  fork: string;
  lossy: boolean;
  epoch: number;
}

/** epochOf is the epoch of an 'E.S' version. */
const epochOf = (v: string): number => Number(v.split('.')[0]);

/**
 * OpOutput is what the client was told: 'found' / 'absent' for a read ('found' without a version
 * when the protocol gives none: RESP), 'ok' for an applied write
 * (version: its new version when the answer gave one; existed: a delete's X-Distkv-Existed),
 * 'failed' for a 412 (current: the version it named, null for a missing key, undefined if not read),
 * 'unknown' for a write that may or may not have been applied.
 */
export type OpOutput =
  | { kind: 'found'; value: string; version?: string }
  | { kind: 'absent' }
  | { kind: 'ok'; version?: string; existed?: boolean }
  | { kind: 'failed'; current?: string | null }
  | { kind: 'unknown' };

/**
 * State is the register: its value (null: no key), its version ('?': applied by an unknown write,
 * not yet named), the highest version known applied; with a failover, its phase (0: at or below the
 * fork, 1: above it, 2: after the failover) and, in phase 1, the register as it was at the fork.
 */
interface State {
  value: string | null;
  version: string | null;
  max: string | null;
  phase: 0 | 1 | 2;
  atFork?: State;
}

/** Verdict is the checker's answer for a whole history. */
export type Verdict = { ok: true; keys: number; ops: number } | { ok: false; key: string; report: string };

const UNKNOWN = '?';

/** compareVersions orders two 'E.S' versions: epoch, then seq. */
export function compareVersions(a: string, b: string): number {
  const [ea, sa] = a.split('.').map(Number) as [number, number];
  const [eb, sb] = b.split('.').map(Number) as [number, number];
  return ea !== eb ? ea - eb : sa - sb;
}

/** conditionHolds says whether a write's condition holds on `s`: true, false, or undefined when the version is not known. */
function conditionHolds(
  s: State,
  ifMatch: string | undefined,
  ifNoneMatch: boolean | undefined,
): boolean | undefined {
  if (ifNoneMatch === true) return s.value === null;
  if (ifMatch === undefined) return true;
  if (s.value === null) return false;
  if (s.version === UNKNOWN) return undefined;
  return s.version === ifMatch;
}

/** rises says whether a write with `version` may follow state `s` (versions rise with every applied write). */
function rises(s: State, version: string | undefined): boolean {
  return version === undefined || s.max === null || compareVersions(version, s.max) > 0;
}

/** applied is `s` after a write of `value` (null: a delete) with `version` (undefined: not known). */
function applied(s: State, value: string | null, version: string | undefined): State {
  const max = version === undefined ? s.max : version;
  return { ...s, value, version: version ?? UNKNOWN, max };
}

/** named is `s` with its unknown version named `version`. */
function named(s: State, version: string): State {
  return { ...s, version, max: version };
}

/**
 * sideOfFork says whether `version` may be named in `s`'s phase: at or below the fork in phase 0,
 * above it in phase 1; after the failover (phase 2) at or below it, or of the new leader's epoch.
 */
function sideOfFork(s: State, version: string | undefined, fault: Fault | undefined): boolean {
  if (fault === undefined || version === undefined) return true;
  const above = compareVersions(version, fault.fork) > 0;
  if (s.phase === 2) return !above || epochOf(version) >= fault.epoch;
  return above === (s.phase === 1);
}

/** step lists the states `op` can leave `s` in (none: it cannot go next from `s`); `fault` is the key's failover. */
function step(from: State, op: Op, fault: Fault | undefined): State[] {
  const { input, output } = op;
  let s = from;
  if (input.kind === 'failover') {
    if (s.phase === 2 || output.kind !== 'ok') return [];
    const at = s.atFork ?? s;
    return [{ value: at.value, version: at.version, max: at.max, phase: 2 }];
  }
  if (input.kind === 'get') {
    if (input.replicated === true && s.phase === 1) return [];
    if (output.kind === 'absent') return s.value === null ? [s] : [];
    if (output.kind !== 'found') return [];
    if (s.value !== output.value) return [];
    if (output.version === undefined || s.version === output.version) return [s];
    if (s.version !== UNKNOWN || !rises(s, output.version) || !sideOfFork(s, output.version, fault))
      return [];
    return [named(s, output.version)];
  }
  const value = input.kind === 'put' ? input.value : null;
  const ifNoneMatch = input.kind === 'put' ? input.ifNoneMatch : undefined;
  let holds = conditionHolds(s, input.ifMatch, ifNoneMatch);
  if (holds === undefined && input.ifMatch !== undefined) {
    // The register's version is not known yet. A 412 naming the version it was asked to match
    // contradicts itself; an applied write (or one that may be) names the version it matched.
    if (output.kind === 'failed' && output.current === input.ifMatch) return [];
    if (output.kind !== 'failed') {
      if (!rises(s, input.ifMatch) || !sideOfFork(s, input.ifMatch, fault)) return [];
      s = named(s, input.ifMatch);
      holds = true;
    }
  }
  switch (output.kind) {
    case 'ok': {
      if (fault?.lossy === true) return ackedLossy(s, output, value, holds, fault);
      // An acknowledged write is never above the fork: the new leader holds it.
      if (holds === false || !rises(s, output.version) || s.phase === 1) return [];
      if (!sideOfFork(s, output.version, fault)) return [];
      if (output.existed !== undefined && output.existed !== (s.value !== null)) return [];
      return [applied(s, value, output.version)];
    }
    case 'failed': {
      if (holds === true) return [];
      if (output.current === undefined) return [s];
      if (output.current === null) return s.value === null ? [s] : [];
      if (s.value === null) return [];
      if (s.version === output.current) return [s];
      if (s.version !== UNKNOWN || !rises(s, output.current) || !sideOfFork(s, output.current, fault))
        return [];
      return [named(s, output.current)];
    }
    case 'unknown': {
      if (holds === false) return [];
      const next = applied(s, value, undefined);
      // Before the fork, an unknown write may also be the key's first one above it (lost at the failover).
      if (fault === undefined || s.phase !== 0) return [next];
      return [next, { ...next, phase: 1, atFork: s }];
    }
    default:
      return [];
  }
}

/**
 * ackedLossy is `step` for an acknowledged write when the key's failover is a lossy crash: as an
 * unknown write's, it may be the key's first write above the fork (its version, when the answer
 * gave one, says whether it is), undone at the crash.
 */
function ackedLossy(
  s: State,
  output: Extract<OpOutput, { kind: 'ok' }>,
  value: string | null,
  holds: boolean | undefined,
  fault: Fault,
): State[] {
  if (holds === false || !rises(s, output.version)) return [];
  if (s.phase !== 0 && !sideOfFork(s, output.version, fault)) return [];
  if (output.existed !== undefined && output.existed !== (s.value !== null)) return [];
  const next = applied(s, value, output.version);
  if (s.phase !== 0) return [next];
  const first: State = { ...next, phase: 1, atFork: s };
  if (output.version === undefined) return [next, first];
  return compareVersions(output.version, fault.fork) > 0 ? [first] : [next];
}

const stateKey = (s: State): string =>
  `${JSON.stringify(s.value)}\u0000${s.version}\u0000${s.max}\u0000${s.phase}${s.atFork === undefined ? '' : `\u0000${stateKey(s.atFork)}`}`;

/** describe writes one operation for a report. */
function describe(op: Op, t0: number): string {
  const i = op.input;
  const what =
    i.kind === 'failover'
      ? `${i.lossy === true ? 'lossy crash' : 'failover'} (fork at ${i.fork})`
      : i.kind === 'get'
        ? 'get'
        : i.kind === 'put'
          ? `put ${JSON.stringify(i.value)}${i.ifMatch !== undefined ? ` if-match ${i.ifMatch}` : ''}${i.ifNoneMatch === true ? ' if-none-match *' : ''}`
          : `delete${i.ifMatch !== undefined ? ` if-match ${i.ifMatch}` : ''}`;
  const o = op.output;
  const got =
    o.kind === 'found'
      ? `found ${JSON.stringify(o.value)}${o.version !== undefined ? ` @${o.version}` : ''}`
      : o.kind === 'ok'
        ? `ok${o.version !== undefined ? ` @${o.version}` : ''}${o.existed !== undefined ? ` existed=${o.existed}` : ''}`
        : o.kind === 'failed'
          ? `412${o.current !== undefined ? ` current=${o.current}` : ''}`
          : o.kind;
  const end = o.kind === 'unknown' ? '?' : (op.ret - t0).toFixed(1);
  return `[${(op.call - t0).toFixed(1)} .. ${end} ms]${op.client !== undefined ? ` ${op.client}:` : ''} ${what} -> ${got}`;
}

/**
 * MAX_STEPS bounds one key's search (a history that needs more is reported, not waited on). At 2
 * million, a forced-failover history of 461 operations on one key with 66 of unknown outcome (each
 * may take effect anywhere after its call) was given up on in CI: no verdict, a failed test. Giving
 * up decides nothing, so the bound is as high as a CI run can afford (a few seconds a key at most).
 */
const MAX_STEPS = 10_000_000;

/** checkKey searches one key's operations; undefined when linearizable, else a report. */
function checkKey(key: string, ops: Op[], t0: number): string | undefined {
  const n = ops.length;
  const failovers = ops.flatMap((o) => (o.input.kind === 'failover' ? [o.input] : []));
  if (failovers.length > 1)
    return `key ${JSON.stringify(key)}: ${failovers.length} failovers, at most one is modelled`;
  const f = failovers[0];
  const fault: Fault | undefined =
    f === undefined
      ? undefined
      : { fork: f.fork, lossy: f.lossy === true, epoch: f.epoch ?? epochOf(f.fork) + 1 };
  const ret = ops.map((o) => (o.output.kind === 'unknown' ? Infinity : o.ret));
  const byCall = [...ops.keys()].sort((a, b) => ops[a]!.call - ops[b]!.call);
  const byRet = [...ops.keys()].sort((a, b) => ret[a]! - ret[b]!);
  const mustPlace = ret.filter((r) => r !== Infinity).length;
  const placed = new Uint8Array(n);
  const bits = new Uint8Array(Math.ceil(n / 8)); // placed, packed for the memo's keys
  const mark = (i: number, on: boolean): void => {
    placed[i] = on ? 1 : 0;
    if (on) bits[i >> 3]! |= 1 << (i & 7);
    else bits[i >> 3]! &= ~(1 << (i & 7));
  };
  const seen = new Set<string>();
  let best = -1;
  let bestState: State | undefined;
  let bestPlaced: Uint8Array | undefined;
  let steps = 0;

  /** candidates lists the unplaced operations that may go next, earliest answer first. */
  const candidates = (): number[] => {
    let minRet = Infinity;
    for (const i of byRet) {
      if (placed[i] === 0) {
        minRet = ret[i]!;
        break;
      }
    }
    const out: number[] = [];
    for (const i of byCall) {
      if (ops[i]!.call > minRet) break;
      if (placed[i] === 0) out.push(i);
    }
    return out.sort((a, b) => ret[a]! - ret[b]!);
  };

  // Iterative depth-first search: each frame holds its state and the moves still to try.
  interface Frame {
    state: State;
    moves: Array<[number, State]>;
    via: number;
    count: number;
  }
  const movesOf = (s: State): Array<[number, State]> => {
    const out: Array<[number, State]> = [];
    for (const i of candidates()) for (const next of step(s, ops[i]!, fault)) out.push([i, next]);
    return out;
  };
  const start: State = { value: null, version: null, max: null, phase: 0 };
  const stack: Frame[] = [{ state: start, moves: movesOf(start), via: -1, count: 0 }];
  while (stack.length > 0) {
    if (++steps > MAX_STEPS)
      return `search gave up after ${MAX_STEPS} steps (${n} operations): too concurrent to decide`;
    const top = stack[stack.length - 1]!;
    if (top.count === mustPlace) return undefined;
    if (top.count > best) {
      best = top.count;
      bestState = top.state;
      bestPlaced = placed.slice();
    }
    const move = top.moves.pop();
    if (move === undefined) {
      stack.pop();
      if (top.via >= 0) mark(top.via, false);
      continue;
    }
    const [i, next] = move;
    mark(i, true);
    const memo = `${Buffer.from(bits).toString('latin1')}|${stateKey(next)}`;
    if (seen.has(memo)) {
      mark(i, false);
      continue;
    }
    seen.add(memo);
    const count = top.count + (ret[i] === Infinity ? 0 : 1);
    stack.push({ state: next, moves: movesOf(next), via: i, count });
  }
  // Not linearizable: show the furthest point reached and what could not follow it.
  const lines = [`key ${JSON.stringify(key)}: ${n} operations, no order explains them.`];
  lines.push(
    `Furthest: ${best} of ${mustPlace} answered operations placed, register then ${JSON.stringify(bestState?.value ?? null)} @${bestState?.version ?? 'none'}.`,
  );
  if (bestPlaced !== undefined) placed.set(bestPlaced);
  const stuck = candidates();
  lines.push('Operations that could go next, none consistent with it:');
  for (const i of stuck.slice(0, 12)) lines.push(`  ${describe(ops[i]!, t0)}`);
  const recent = byRet.filter((i) => placed[i] === 1 && ret[i] !== Infinity).slice(-6);
  lines.push('Last answered operations placed before it:');
  for (const i of recent) lines.push(`  ${describe(ops[i]!, t0)}`);
  return lines.join('\n');
}

/** checkHistory checks every key's operations; the first key that is not linearizable is reported. */
export function checkHistory(history: readonly Op[]): Verdict {
  const byKey = new Map<string, Op[]>();
  let t0 = Infinity;
  for (const op of history) {
    t0 = Math.min(t0, op.call);
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(op);
  }
  for (const [key, ops] of byKey) {
    const report = checkKey(key, ops, t0);
    if (report !== undefined) return { ok: false, key, report };
  }
  return { ok: true, keys: byKey.size, ops: history.length };
}
