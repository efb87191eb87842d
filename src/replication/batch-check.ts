/**
 * Checking a pulled batch before a replica applies it (follower.ts): its records must carry the
 * seqs after the replica's ack, one by one (docs/wal-format.md, "Invariants"). A store checks each
 * record's checksum and that the first one follows its log, but takes the batch's last seq as its
 * own: a batch from a broken or hostile leader whose seqs jump (ack + 1, ack + 1000) made the
 * replica claim seqs it never got, and one whose seqs go back (ack + 1, ack + 2, ack + 1) moved
 * its log's next seq back under records it had logged. Such a batch is refused whole, nothing
 * logged: the follower logs why and pulls again after its backoff.
 */
import { DistkvError } from '../errors.js';
import { newRecordView, viewRecord } from '../storage/wal-format.js';

/**
 * checkBatchSeqs throws CORRUPTION, naming `from` (the source) and the offset, when `records` are
 * not whole records with seqs `after + 1`, `after + 2`, ... (checksums are the store's to check).
 */
export function checkBatchSeqs(records: Buffer, after: number, from: string): void {
  const v = newRecordView();
  let want = after + 1;
  for (let offset = 0; offset < records.length; offset = v.end) {
    const damage = viewRecord(records, offset, v, false);
    if (damage !== undefined)
      throw new DistkvError(
        'CORRUPTION',
        `a batch from ${from} is damaged at offset ${offset} (${damage === 'short' ? 'it ends inside a record' : damage}); refused, pulling again`,
      );
    if (v.seq !== want)
      throw new DistkvError(
        'CORRUPTION',
        `a batch from ${from} holds seq ${v.seq} at offset ${offset} where seq ${want} must follow (a leader's records carry consecutive seqs after the replica's ack ${after}); refused, pulling again`,
      );
    want++;
  }
}
