/**
 * ScanCursors: SCAN's cursors for one listener. Redis clients send the cursor back as a decimal
 * number, and a distkv scan position is a store and a key, so the listener keeps the positions
 * and hands out numbers for them. Positions are kept for the newest MAX_CURSORS cursors handed out
 * or used; an older one is refused ("invalid cursor"), and the client starts again from 0.
 *
 * A cursor stays valid after it is used, as Redis's cursors (which are positions) do: a client
 * whose SCAN reply was lost (a timeout, a dropped connection) sends the same cursor again, and
 * client libraries do so on their own (ioredis resends unanswered commands after a reconnect).
 * It used to be forgotten on use, so that retry was refused and the scan could not go on.
 *
 * A position keeps its own copy of its key, of the key's size: the key given is a view (of the
 * worker's answer) or a copy made in Node's shared 8 KiB buffer pool, and a remembered view kept
 * that whole buffer alive, so the MAX_CURSORS positions could pin MAX_CURSORS pool slabs (32 MiB a
 * listener) or answers, for keys of a few bytes (test/unit/resp-scan-cursors.test.ts).
 */

/** MAX_CURSORS is how many open cursors a listener remembers. */
export const MAX_CURSORS = 4096;

/**
 * ScanPosition is where a scan resumes: the index of a shard (the scan goes on at the first shard
 * from there that the node serves when it resumes) and the last key returned in it.
 */
export interface ScanPosition {
  shard: number;
  after: Buffer | undefined;
}

/** ScanCursors maps cursor numbers to scan positions. */
export class ScanCursors {
  private readonly open = new Map<number, ScanPosition>();
  private next = 1;

  /** save stores a position and returns its cursor number. */
  save(pos: ScanPosition): number {
    const id = this.next;
    this.next = this.next >= 2 ** 52 ? 1 : this.next + 1;
    this.open.set(id, { shard: pos.shard, after: pos.after === undefined ? undefined : ownCopy(pos.after) });
    if (this.open.size > MAX_CURSORS) this.open.delete(this.open.keys().next().value!);
    return id;
  }

  /** take returns the position of a cursor (kept, as the newest: it may be sent again); 0 is the start; undefined when unknown. */
  take(cursor: number): ScanPosition | undefined {
    if (cursor === 0) return { shard: 0, after: undefined };
    const pos = this.open.get(cursor);
    if (pos !== undefined) {
      this.open.delete(cursor);
      this.open.set(cursor, pos);
    }
    return pos;
  }
}

/** ownCopy copies `key` into memory of its own (never the shared pool `Buffer.from` copies into). */
function ownCopy(key: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(key.length);
  copy.set(key);
  return copy;
}

/**
 * END_CURSOR is the cursor 2^64 - 1, what `SCAN -1` names: Redis reads a cursor with strtoul, so
 * -1 is the largest cursor, the last position of its scan order, and Redis answers it with that
 * position's keys and the cursor 0. distkv never hands it out; it answers it as the end of the
 * scan, an empty page and the cursor 0 (it answered `-ERR invalid cursor`).
 */
export const END_CURSOR = 2n ** 64n - 1n;

/**
 * parseCursor reads a SCAN cursor as Redis does (strtoul in base 10, parseScanCursorOrReply):
 * an optional sign and decimal digits, up to the first NUL byte; a minus sign negates modulo
 * 2^64 (`-1` is END_CURSOR, `-0` is 0); an empty text is 0; leading blanks, any other byte and a
 * magnitude over 2^64 - 1 are refused (undefined), as Redis answers `-ERR invalid cursor`.
 */
export function parseCursor(b: Buffer): bigint | undefined {
  const nul = b.indexOf(0);
  const text = b.toString('latin1', 0, nul < 0 ? b.length : nul);
  if (text === '') return 0n;
  const m = /^([+-]?)(\d+)$/.exec(text);
  if (m === null) return undefined;
  const magnitude = BigInt(m[2]!);
  if (magnitude > END_CURSOR) return undefined;
  return m[1] === '-' ? (2n ** 64n - magnitude) % 2n ** 64n : magnitude;
}
