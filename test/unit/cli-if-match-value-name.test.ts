/**
 * `distkv set KEY V --if-match` with no value said "--if-match needs a value (V)", while the next
 * error ("--if-match must be a version E.S ..."), get --show-version and the docs call a version
 * E.S. Both set and del now name it E.S, in that error and in --help. Nothing is sent: the
 * command line is refused before a node is asked.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { BIN } from '../helpers/server-process.js';

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, DISTKV_URL: '127.0.0.1:1' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('--if-match without a value', () => {
  for (const verb of [
    ['set', 'k', 'v'],
    ['del', 'k'],
  ])
    it(`distkv ${verb[0]!} names the version E.S, as its other errors and the docs do`, () => {
      const r = run(...verb, '--if-match');
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr.split('\n')[0], `distkv ${verb[0]!}: --if-match needs a value (E.S)`);
      const help = run(verb[0]!, '--help');
      assert.match(help.stdout, /--if-match E\.S +(write|delete) only if the key's version is E\.S/);
    });
});
