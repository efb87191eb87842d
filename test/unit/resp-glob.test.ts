import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { globMatch, literalPrefix } from '../../src/resp/glob.js';

describe('globMatch (Redis KEYS/SCAN MATCH patterns)', () => {
  const cases: [string, string, boolean][] = [
    ['*', '', true],
    ['*', 'anything', true],
    ['h?llo', 'hello', true],
    ['h?llo', 'hllo', false],
    ['h*llo', 'heeeello', true],
    ['h[ae]llo', 'hallo', true],
    ['h[ae]llo', 'hillo', false],
    ['h[^e]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[a-b]llo', 'hbllo', true],
    ['h[b-a]llo', 'hallo', true],
    ['user:*:name', 'user:42:name', true],
    ['user:*:name', 'user:42:age', false],
    ['\\*literal', '*literal', true],
    ['\\*literal', 'xliteral', false],
    ['{user1}*', '{user1}.following', true],
    ['*a*a*a*a*a*b', 'a'.repeat(1000), false],
    // redis-server 7.0's answers: a '-' before ']' still makes a range (a..']' here, swapped to
    // ']'..'a'), so ']' closes nothing and 'b' joins the class, which runs to the pattern's end.
    ['[a-]b', ']', true],
    ['[a-]b', 'b', true],
    ['[a-]b', 'ab', false],
    ['[a-]b', '-b', false],
    ['a[-]b', 'a-b', true],
    ['a[', 'a', false],
  ];
  for (const [pattern, text, expected] of cases)
    it(`${expected ? 'matches' : 'does not match'} ${JSON.stringify(text.slice(0, 20))} with ${pattern}`, () => {
      assert.equal(globMatch(pattern, text), expected);
    });

  it('finds the literal prefix a scan can seek to', () => {
    assert.equal(literalPrefix('user:*'), 'user:');
    assert.equal(literalPrefix('a\\*b?'), 'a*b');
    assert.equal(literalPrefix('[ab]x'), '');
    assert.equal(literalPrefix('plain'), 'plain');
  });
});
