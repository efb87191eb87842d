/**
 * How a follower logs its state (src/replication/follower-state-log.ts): a leader that answers
 * with a refusal is up (a warn saying what it answered and what to do), one that does not answer
 * while the replica starts is awaited (info), and a refusal that comes while the follower is
 * already disconnected (its leader came up after it) is logged once per kind of refusal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { FollowerStateLog, refusalOf } from '../../src/replication/follower-state-log.js';
import { LeaderAnswerError } from '../../src/replication/http-answer.js';

const SOURCE = 'http://127.0.0.1:1 shard shard-0';
const UNAUTHORIZED_TEXT = `pull from ${SOURCE}: HTTP 401 {"error":{"code":"UNAUTHORIZED","message":"missing or wrong bearer token"}}`;
const UNAUTHORIZED = new LeaderAnswerError(UNAUTHORIZED_TEXT, 401, 'UNAUTHORIZED');
const MISMATCH = new LeaderAnswerError(
  `pull from ${SOURCE}: HTTP 409 {"error":{"code":"CONFIG_MISMATCH","message":"config differs"}}`,
  409,
  'CONFIG_MISMATCH',
);
const REFUSED_CONNECTION = new Error('connect ECONNREFUSED 127.0.0.1:1');

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

describe('refusalOf', () => {
  it('reads the status and code a refused pull or snapshot carries', () => {
    assert.deepEqual(refusalOf(UNAUTHORIZED), { status: 401, code: 'UNAUTHORIZED' });
    assert.deepEqual(
      refusalOf(new LeaderAnswerError(`snapshot from ${SOURCE}: HTTP 403 not json`, 403, undefined)),
      {
        status: 403,
        code: undefined,
      },
    );
  });

  it('is undefined for no answer, an answer that is not a 4xx, or a message that only reads like one', () => {
    assert.equal(refusalOf(REFUSED_CONNECTION), undefined);
    assert.equal(refusalOf(new Error(`pull from ${SOURCE}: no answer within 4000 ms`)), undefined);
    assert.equal(
      refusalOf(
        new LeaderAnswerError(
          `pull from ${SOURCE}: HTTP 503 {"error":{"code":"UNAVAILABLE"}}`,
          503,
          'UNAVAILABLE',
        ),
      ),
      undefined,
    );
    // The text is not read: an error of another kind whose message quotes an answer is no refusal.
    assert.equal(refusalOf(new Error(UNAUTHORIZED_TEXT)), undefined);
    assert.equal(refusalOf(undefined), undefined);
  });
});

describe('FollowerStateLog', () => {
  it('warns of a first pull refused, naming the answer and what to do', () => {
    const { stateLog, lines } = capture();
    stateLog.changed('starting', 'disconnected', UNAUTHORIZED);
    const [line, ...more] = lines;
    assert.ok(line !== undefined && more.length === 0, JSON.stringify(lines));
    assert.equal(line.level, 40);
    assert.match(line.msg, /refuses the pulls \(HTTP 401 UNAUTHORIZED\).*DISTKV_TOKEN/);
    assert.doesNotMatch(line.msg, /come up/);
    assert.equal(line.error, UNAUTHORIZED_TEXT, 'the message, as operators read it');
  });

  it('says a leader that does not answer at the start is awaited, at info', () => {
    const { stateLog, lines } = capture();
    stateLog.changed('starting', 'disconnected', REFUSED_CONNECTION);
    const [line, ...more] = lines;
    assert.ok(line !== undefined && more.length === 0, JSON.stringify(lines));
    assert.equal(line.level, 30);
    assert.match(line.msg, /waiting for the leader to come up/);
  });

  it('warns once per kind of refusal that follows while disconnected', () => {
    const { stateLog, lines } = capture();
    stateLog.changed('starting', 'disconnected', REFUSED_CONNECTION);
    stateLog.failedAgain(REFUSED_CONNECTION);
    stateLog.failedAgain(UNAUTHORIZED); // the leader came up: logged
    stateLog.failedAgain(UNAUTHORIZED);
    stateLog.failedAgain(REFUSED_CONNECTION);
    stateLog.failedAgain(UNAUTHORIZED); // the same refusal again: not logged
    stateLog.failedAgain(MISMATCH); // another refusal: logged
    assert.deepEqual(
      lines.map((l) => [l.level, /HTTP \d+ [A-Z_]+/.exec(l.msg)?.[0] ?? l.msg]),
      [
        [30, 'replication: waiting for the leader to come up (it does not answer yet)'],
        [40, 'HTTP 401 UNAUTHORIZED'],
        [40, 'HTTP 409 CONFIG_MISMATCH'],
      ],
    );
  });

  it('logs a refusal again after the follower streamed in between', () => {
    const { stateLog, lines } = capture();
    stateLog.changed('starting', 'disconnected', MISMATCH);
    stateLog.changed('disconnected', 'streaming');
    stateLog.changed('streaming', 'disconnected', MISMATCH);
    assert.deepEqual(
      lines.map((l) => l.level),
      [40, 30, 40],
    );
  });
});
