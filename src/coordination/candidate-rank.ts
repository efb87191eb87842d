/**
 * Candidate ranking for automatic failover (docs/failover.md): only the most advanced live member
 * of a shard may take its leader key, as Redis Cluster ranks replicas by replication offset. Every
 * member publishes its store's durable seq under its own lease, so a member that is down has no
 * entry. Ties go to the lowest address, so exactly one member ranks first.
 */

/** Published is one member's published durable seq. */
export interface Published {
  address: string;
  seq: number;
}

/** ranksFirst tells whether `me` (holding `mySeq`) outranks every other published member. */
export function ranksFirst(me: string, mySeq: number, others: readonly Published[]): boolean {
  return others.every((o) => o.address === me || o.seq < mySeq || (o.seq === mySeq && o.address > me));
}
