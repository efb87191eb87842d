import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { epochOfSeq, formatVersion, parseVersion } from '../../src/routing/version.js';

describe('key versions', () => {
  it('round-trips E.S, quoted or not', () => {
    assert.equal(formatVersion({ epoch: 3, seq: 1234 }), '3.1234');
    assert.deepEqual(parseVersion('3.1234'), { epoch: 3, seq: 1234 });
    assert.deepEqual(parseVersion('"0.7"'), { epoch: 0, seq: 7 });
  });

  it('refuses what is not a version', () => {
    for (const bad of ['', '1', '.1', '1.', 'a.b', '1.2.3', '-1.2', '1.99999999999999999', '*', 'W/"1.2"'])
      assert.equal(parseVersion(bad), undefined, bad);
  });

  it('refuses a version with leading zeros: 00.05 is not the version 0.5 an ETag would name', () => {
    for (const bad of ['00.05', '0.05', '00.5', '01.1', '"0.007"', '0.00'])
      assert.equal(parseVersion(bad), undefined, bad);
    assert.deepEqual(parseVersion('0.0'), { epoch: 0, seq: 0 }, 'a watch from the start');
    assert.deepEqual(parseVersion('10.100'), { epoch: 10, seq: 100 });
  });

  it('refuses a version with one quote but not its pair', () => {
    for (const bad of ['"0.1', '0.1"', '""0.1""', '"0.1"x']) assert.equal(parseVersion(bad), undefined, bad);
  });

  it('finds the epoch that wrote a seq from the shard history', () => {
    const history = [
      { epoch: 2, firstSeq: 11 },
      { epoch: 5, firstSeq: 40 },
    ];
    assert.equal(epochOfSeq(history, 1), 0);
    assert.equal(epochOfSeq(history, 10), 0);
    assert.equal(epochOfSeq(history, 11), 2);
    assert.equal(epochOfSeq(history, 39), 2);
    assert.equal(epochOfSeq(history, 40), 5);
    assert.equal(epochOfSeq([], 99), 0);
  });
});
