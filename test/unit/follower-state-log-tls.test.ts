/**
 * A replica whose TLS handshake with its leader fails (src/replication/follower-state-log.ts,
 * src/util/tls-failure.ts): the leader answers, so this is a refusal, a warn naming the leader, the
 * certificate's problem and what to check, never "waiting for the leader to come up" at info. The
 * failure is read from Node's error code, on the error or on its cause (undici, fetch and the
 * callers that wrap an error), never from the message.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { FollowerStateLog, refusalOf } from '../../src/replication/follower-state-log.js';

const SOURCE = 'https://127.0.0.1:1 shard 0';

/** tlsError is an error as Node's TLS socket rejects with it: `code` set, OpenSSL's message. */
function tlsError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

const UNTRUSTED = tlsError('unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
const EXPIRED = tlsError('certificate has expired', 'CERT_HAS_EXPIRED');
/** WRAPPED is a TLS failure a caller wrapped (as fetch does, or a snapshot's read): its cause has the code. */
const WRAPPED = new Error(`snapshot from ${SOURCE}: fetch failed`, { cause: EXPIRED });
const REFUSED_CONNECTION = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
  code: 'ECONNREFUSED',
});

interface Line {
  level: number;
  msg: string;
  error?: string;
}

function capture(): { stateLog: FollowerStateLog; lines: Line[] } {
  const lines: Line[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as Line) });
  return { stateLog: new FollowerStateLog(log, SOURCE), lines };
}

describe('refusalOf a TLS failure', () => {
  it('reads the code of the error or of its cause', () => {
    assert.deepEqual(refusalOf(UNTRUSTED), {
      tls: { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', message: UNTRUSTED.message, kind: 'untrusted' },
    });
    assert.deepEqual(refusalOf(WRAPPED), {
      tls: { code: 'CERT_HAS_EXPIRED', message: 'certificate has expired', kind: 'dates' },
    });
  });

  it('is undefined for a refused connection, a handshake timeout or a message that only names a certificate', () => {
    assert.equal(refusalOf(REFUSED_CONNECTION), undefined);
    assert.equal(refusalOf(tlsError('TLS handshake timeout', 'ERR_TLS_HANDSHAKE_TIMEOUT')), undefined);
    assert.equal(refusalOf(new Error('unable to verify the first certificate')), undefined);
  });
});

describe('FollowerStateLog with a TLS failure', () => {
  it('warns at the start naming the leader, the certificate and tls_ca, not "waiting for the leader"', () => {
    const { stateLog, lines } = capture();
    stateLog.changed('starting', 'disconnected', UNTRUSTED);
    const [line, ...more] = lines;
    assert.ok(line !== undefined && more.length === 0, JSON.stringify(lines));
    assert.equal(line.level, 40);
    assert.doesNotMatch(line.msg, /come up/);
    assert.ok(line.msg.includes(SOURCE), line.msg);
    assert.match(line.msg, /unable to verify the first certificate \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
    assert.match(line.msg, /server\.tls_ca/);
    assert.equal(line.error, UNTRUSTED.message);
  });

  it('warns of an expired certificate found by a wrapped error, naming its dates as what to check', () => {
    const { stateLog, lines } = capture();
    stateLog.changed('streaming', 'disconnected', WRAPPED);
    const [line] = lines;
    assert.ok(line !== undefined, JSON.stringify(lines));
    assert.equal(line.level, 40);
    assert.match(line.msg, /certificate has expired \(CERT_HAS_EXPIRED\).*validity dates/);
    assert.doesNotMatch(line.msg, /unreachable/);
  });

  it('warns once per TLS failure while disconnected, again when it changes', () => {
    const { stateLog, lines } = capture();
    stateLog.changed('starting', 'disconnected', REFUSED_CONNECTION); // the leader not up yet: info
    stateLog.failedAgain(UNTRUSTED); // it came up with a certificate not trusted here
    stateLog.failedAgain(UNTRUSTED);
    stateLog.failedAgain(REFUSED_CONNECTION);
    stateLog.failedAgain(UNTRUSTED); // the same failure: not again
    stateLog.failedAgain(EXPIRED); // another: logged
    assert.deepEqual(
      lines.map((l) => [l.level, /\(([A-Z_]+)\)/.exec(l.msg)?.[1] ?? l.msg]),
      [
        [30, 'replication: waiting for the leader to come up (it does not answer yet)'],
        [40, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
        [40, 'CERT_HAS_EXPIRED'],
      ],
    );
  });
});
