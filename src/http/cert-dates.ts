/**
 * Certificate dates: a node whose own certificate (`server.tls_cert`) is expired or not yet valid
 * when it starts says so, naming its dates. Such a node started without a word and served: every
 * node and client that called it failed its TLS handshake (CERT_HAS_EXPIRED, CERT_NOT_YET_VALID),
 * and its replicas logged only that their leader was not up (test/e2e/replica-tls-refused-log.test.ts).
 * It still starts (a clock that is wrong here may be right there): the warning says what to do.
 * Read once, by the front door before it listens (front-door.ts).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';

/** DAY_MS is one day, the unit the warning counts in. */
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * certDatesProblem says how the certificate `pem` (its first, for a chain) is out of its dates at
 * `now` (ms since the epoch): expired, or not valid yet, with its dates; undefined when it is
 * within them or its dates cannot be read.
 */
export function certDatesProblem(pem: Buffer, now: number): string | undefined {
  const cert = new X509Certificate(pem);
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  const dates = `valid from ${cert.validFrom} to ${cert.validTo}`;
  const days = (ms: number): string => {
    const n = Math.floor(ms / DAY_MS);
    return `${String(n)} day${n === 1 ? '' : 's'}`;
  };
  if (Number.isFinite(to) && now > to) return `it expired ${days(now - to)} ago (${dates})`;
  if (Number.isFinite(from) && now < from)
    return `it is not valid yet, for another ${days(from - now)} (${dates})`;
  return undefined;
}

/**
 * warnIfCertOutOfDates logs a warning when the certificate file `path` (server.tls_cert) is out of
 * its dates at `now`. A file it cannot read is left to the listener, which names it.
 */
export function warnIfCertOutOfDates(log: Logger, path: string, now = Date.now()): void {
  let problem: string | undefined;
  try {
    problem = certDatesProblem(readFileSync(path), now);
  } catch {
    return;
  }
  if (problem === undefined) return;
  log.warn(
    { tls_cert: path },
    `this node's certificate (server.tls_cert ${path}) is out of its dates: ${problem}. Every node and client calling this node refuses its TLS handshake (replicas cannot pull from it): renew it and restart this node, or set this machine's clock right`,
  );
}
