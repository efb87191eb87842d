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

  /**
   * checkVersion returns what is wrong with `seq`, the version a key holding `observed` shows, or
   * undefined: a key holding its acknowledged value (and no write in flight of the same value) must
   * hold that write's seq. Only for models whose `ackedWrite` seqs are the store's seqs.
   */
  checkVersion(key: string, observed: Version, seq: number): string | undefined {
    const acked = this.acked.get(key);
    if (acked === undefined || acked.seq === 0 || observed === null || observed !== acked.value)
      return undefined;
    if (this.unacked.get(key)?.has(observed) === true || seq === acked.seq) return undefined;
    return `key ${key}: holds its acknowledged value ${JSON.stringify(observed)} with version seq ${seq}; that write was acknowledged as seq ${acked.seq}`;
  }

  /** settle makes the observed state the acknowledged baseline. */
  settle(observed: Map<string, Version>): void {
    this.acked.clear();
    this.unacked.clear();
    for (const [k, v] of observed) this.acked.set(k, { seq: 0, value: v });
  }
}

/** ModelEntry is a key's value, the seq of its last write (its version) and its expiry (0 = none). */
export interface ModelEntry {
  value: Uint8Array;
  seq: number;
  expiresAtMs: number;
}

/**
 * KvModel is the reference a Store is checked against: a Map from key to value, version and expiry,
 * plus the sequence counter. Keys are latin1 strings of the key bytes, so string order is byte
 * order, as in a Store. A value whose expiry the clock has reached is gone, as in a Store.
 */
export class KvModel {
  private readonly map = new Map<string, ModelEntry>();
  private readonly clock: () => number;
  /** seq is the sequence number of the newest write. */
  seq = 0;

  /** constructor takes the clock expiries are compared with (the store's). */
  constructor(clock: () => number = Date.now) {
    this.clock = clock;
  }

  /** put records a write (expiring at `expiresAtMs`, 0 = never) and returns the seq it must get. */
  put(key: Uint8Array, value: Uint8Array, expiresAtMs = 0): number {
    this.map.set(Buffer.from(key).toString('latin1'), { value, seq: ++this.seq, expiresAtMs });
    return this.seq;
  }

  /** delete records a delete (a write even when the key is absent) and returns its seq. */
  delete(key: Uint8Array): number {
    this.map.delete(Buffer.from(key).toString('latin1'));
    return ++this.seq;
  }

  /** get returns the key's value, or undefined. */
  get(key: Uint8Array): Uint8Array | undefined {
    return this.entry(key)?.value;
  }

  /** entry returns the key's live entry (value, version seq, expiry), or undefined. */
  entry(key: Uint8Array): ModelEntry | undefined {
    return this.live(Buffer.from(key).toString('latin1'));
  }

  private live(k: string): ModelEntry | undefined {
    const e = this.map.get(k);
    return e !== undefined && (e.expiresAtMs === 0 || e.expiresAtMs > this.clock()) ? e : undefined;
  }

  /** scan answers as Store.scan does: keys with `prefix`, greater than `after`, in byte order, up to `limit`. */
  scan(prefix: Uint8Array, after: Uint8Array | undefined, limit: number): ({ key: Buffer } & ModelEntry)[] {
    const p = Buffer.from(prefix).toString('latin1');
    const a = after === undefined ? undefined : Buffer.from(after).toString('latin1');
    return [...this.map.keys()]
      .filter((k) => k.startsWith(p) && (a === undefined || k > a) && this.live(k) !== undefined)
      .sort()
      .slice(0, limit)
      .map((k) => ({ key: Buffer.from(k, 'latin1'), ...this.map.get(k)! }));
  }
}
