/**
 * The model of a key-value store under crashes, shared by the robustness tests.
 *
 * For each key it keeps the newest acknowledged version and every version written but not
 * acknowledged (in flight at the crash). After recovery a key may hold only the newest
 * acknowledged version, or one of the unacknowledged ones; anything else is a lost or invented
 * write. `settle` then takes what recovery shows as the new acknowledged baseline.
 */

type Version = string | null;

/** CrashModel tracks what a store must hold after a crash. */
export class CrashModel {
  private readonly acked = new Map<string, { seq: number; value: Version }>();
  private readonly unacked = new Map<string, Set<Version>>();

  /** issued records a write before it is acknowledged (null = delete); returns a token for acked(). */
  issued(key: string, value: Version): void {
    let set = this.unacked.get(key);
    if (set === undefined) this.unacked.set(key, (set = new Set()));
    set.add(value);
  }

  /** ackedWrite records that the write of `value` to `key` was acknowledged with `seq`. */
  ackedWrite(key: string, value: Version, seq: number): void {
    const cur = this.acked.get(key);
    if (cur === undefined || seq > cur.seq) this.acked.set(key, { seq, value });
    this.unacked.get(key)?.delete(value);
  }

  /** keys lists every key the model knows. */
  keys(): string[] {
    return [...new Set([...this.acked.keys(), ...this.unacked.keys()])];
  }

  /** check returns a description of what is wrong with `observed` for `key`, or undefined. */
  check(key: string, observed: Version): string | undefined {
    const acked = this.acked.get(key);
    const expected = acked?.value ?? null;
    if (observed === expected) return undefined;
    if (this.unacked.get(key)?.has(observed) === true) return undefined;
    return `key ${key}: found ${JSON.stringify(observed)}, expected the acknowledged ${JSON.stringify(expected)} or one of the in-flight ${JSON.stringify([...(this.unacked.get(key) ?? [])])}`;
  }

  /** settle makes the observed state the acknowledged baseline. */
  settle(observed: Map<string, Version>): void {
    this.acked.clear();
    this.unacked.clear();
    for (const [k, v] of observed) this.acked.set(k, { seq: 0, value: v });
  }
}
