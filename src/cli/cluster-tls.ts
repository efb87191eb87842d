/**
 * What `distkv cluster` says of a node whose TLS handshake fails (its certificate expired, not
 * signed by a CA the command trusts, naming another address: src/util/tls-failure.ts). Such a node
 * is up: it listens and answers the handshake, so it is not DOWN, and what it serves is not known
 * here. It was counted DOWN, and a leader so counted came with the advice to promote a replica
 * with `distkv failover --force`, while the leader ran and took writes: docs/operations.md ("When a
 * handshake fails") says nothing changes until the operator acts on the certificate.
 */
import { type TlsFailure, tlsFailureText } from '../util/tls-failure.js';

/** tlsRemedyHere says what to check about `f`, a node's failed handshake with this command. */
function tlsRemedyHere(f: TlsFailure, node: string): string {
  switch (f.kind) {
    case 'untrusted':
      return `its certificate is not signed by a CA this command trusts: give the CA's PEM file (--ca FILE or DISTKV_CA)`;
    case 'dates':
      return `its certificate is outside its validity dates (openssl x509 -noout -dates -in its tls_cert): renew it and restart ${node}, and check the clocks`;
    case 'name':
      return `its certificate does not name ${node}: give it a subjectAltName for that address of sharding.toml (IP:... for an IP address)`;
    case 'protocol':
      return `it does not speak TLS as this command does (one side HTTPS, the other plain HTTP): give every node the same server.tls_cert settings, and the command https:// addresses for them`;
    case 'other':
      return `check its certificate (names and dates) and the CA this command trusts (--ca)`;
  }
}

/** tlsProblem is the problem line of node `node`, whose handshake failed with `f`. */
export function tlsProblem(node: string, f: TlsFailure): string {
  return `node ${node} answers, but the TLS handshake with it fails: ${tlsFailureText(f)}; ${tlsRemedyHere(f, node)}. It is up, so fail nothing over for it; what it serves is not known here`;
}
