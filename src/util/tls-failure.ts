/**
 * TLS failures: a call to another node whose TLS handshake failed (its certificate not signed by a
 * CA this node trusts, expired or not yet valid, naming another address; or the two ends not
 * speaking TLS alike) got an answer: the node is up, and nothing changes until an operator acts.
 * Such a failure was taken for a node that does not answer: a replica logged "waiting for the
 * leader to come up" at info for a leader that had been answering all along, the certificate's
 * problem only in its `error` field (test/e2e/replica-tls-refused-log.test.ts), and a node's start
 * warned that no peer answered.
 *
 * `tlsFailureOf` reads Node's error code (undici's `request` rejects with the socket's error, its
 * `code` set; `fetch` and the callers that wrap an error keep it as `cause`; a connection tried on
 * several addresses fails with an AggregateError of them), never the message. Its `kind` says what
 * to check. A handshake that timed out (ERR_TLS_HANDSHAKE_TIMEOUT) is a node that does not answer
 * in time, not one of these.
 *
 * Used by the follower's log (src/replication/follower-state-log.ts) and the peer check
 * (src/server/peer-check.ts, start-warnings.ts); the client's own messages are in
 * src/client/exchange.ts.
 */

/** TlsFailureKind is what a TLS failure asks an operator to check. */
export type TlsFailureKind = 'untrusted' | 'dates' | 'name' | 'protocol' | 'other';

/** TlsFailure is a failed TLS handshake: Node's error code, its message and its kind. */
export interface TlsFailure {
  code: string;
  message: string;
  kind: TlsFailureKind;
}

/** KINDS maps Node's (OpenSSL's) certificate verification codes to their kind. */
const KINDS: ReadonlyMap<string, TlsFailureKind> = new Map<string, TlsFailureKind>([
  ...[
    'UNABLE_TO_GET_ISSUER_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'CERT_SIGNATURE_FAILURE',
    'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
    'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
    'CERT_CHAIN_TOO_LONG',
    'CERT_REVOKED',
    'INVALID_CA',
    'PATH_LENGTH_EXCEEDED',
    'INVALID_PURPOSE',
    'CERT_UNTRUSTED',
    'CERT_REJECTED',
  ].map((c) => [c, 'untrusted'] as const),
  ...[
    'CERT_HAS_EXPIRED',
    'CERT_NOT_YET_VALID',
    'ERROR_IN_CERT_NOT_BEFORE_FIELD',
    'ERROR_IN_CERT_NOT_AFTER_FIELD',
  ].map((c) => [c, 'dates'] as const),
  ...['ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_TLS_CERT_ALTNAME_FORMAT', 'HOSTNAME_MISMATCH'].map(
    (c) => [c, 'name'] as const,
  ),
  ['EPROTO', 'protocol'],
]);

/** CAUSE_DEPTH bounds the walk down an error's causes (a cycle of causes ends there). */
const CAUSE_DEPTH = 8;

/** kindOf is the kind of Node error code `code`, or undefined when it is no TLS failure. */
function kindOf(code: string): TlsFailureKind | undefined {
  const known = KINDS.get(code);
  if (known !== undefined) return known;
  if (code.startsWith('ERR_SSL_')) return 'protocol';
  if (code.startsWith('ERR_TLS_') && code !== 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'other';
  return undefined;
}

/**
 * tlsFailureOf is the TLS failure `err` is or was caused by (its `code`, its `cause`'s, an
 * AggregateError's errors'), or undefined when it is none (a refused connection, a timeout, an
 * answer).
 */
export function tlsFailureOf(err: unknown, depth = 0): TlsFailure | undefined {
  if (typeof err !== 'object' || err === null || depth > CAUSE_DEPTH) return undefined;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  const kind = typeof e.code === 'string' ? kindOf(e.code) : undefined;
  if (kind !== undefined && typeof e.code === 'string')
    return { code: e.code, message: typeof e.message === 'string' ? e.message.trim() : '', kind };
  if (Array.isArray(e.errors))
    for (const inner of e.errors as unknown[]) {
      const f = tlsFailureOf(inner, depth + 1);
      if (f !== undefined) return f;
    }
  return tlsFailureOf(e.cause, depth + 1);
}

/**
 * tlsRemedy says what to check about a TLS failure with `who` ("the leader", "node 10.0.0.1:8080"):
 * this node's `server.tls_ca`, the other's certificate (its dates, its names) or both ends' scheme.
 */
export function tlsRemedy(f: TlsFailure, who: string): string {
  switch (f.kind) {
    case 'untrusted':
      return `the certificate of ${who} is not signed by a CA in this node's server.tls_ca (a CA changed on one node only, or a self-signed certificate): give every node a tls_ca holding the CA that signs every node's certificate (docs/operations.md, "TLS and token rotation")`;
    case 'dates':
      return `the certificate of ${who} is outside its validity dates (openssl x509 -noout -dates -in its tls_cert): renew it and restart that node, and check both machines' clocks`;
    case 'name':
      return `the certificate of ${who} does not name the address this node calls it at: give it a subjectAltName for that address of sharding.toml (IP:... for an IP address)`;
    case 'protocol':
      return `${who} and this node do not speak TLS alike (one serves HTTPS, the other plain HTTP): give every node the same server.tls_cert and tls_key settings`;
    case 'other':
      return `check this node's server.tls_ca and the certificate of ${who} (its names and dates)`;
  }
}

/** tlsFailureText is a TLS failure in a few words: `unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`. */
export function tlsFailureText(f: TlsFailure): string {
  return f.message === '' ? f.code : `${f.message} (${f.code})`;
}

/**
 * namingTls is `err` itself, or, when it is a TLS failure, an error whose message names `what`
 * failed and how (`pull from https://10.0.0.1:8080 shard 0: the TLS handshake failed: certificate
 * has expired (CERT_HAS_EXPIRED)`), `err` as its cause: a replica's `/stats` showed OpenSSL's
 * words alone ("certificate has expired") as its last error, with no leader or code.
 */
export function namingTls(err: unknown, what: string): unknown {
  const f = tlsFailureOf(err);
  return f === undefined
    ? err
    : new Error(`${what}: the TLS handshake failed: ${tlsFailureText(f)}`, { cause: err });
}
