/**
 * A mistyped command or option is answered with what it most likely meant (src/cli/did-you-mean.ts):
 * `distkv gte k` said only `unknown command "gte"`, `distkv set k v --tll 5` only `unknown option
 * --tll`, and `distkv delete k` (the verb etcd and most HTTP stores use) sent a Redis user to the
 * whole command list. An unrelated word still suggests nothing. Both exit 2 and send nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { didYouMean, editDistance } from '../../src/util/did-you-mean.js';
import { runCli } from '../helpers/server-process.js';

// Nothing listens here: a command that got past its usage checks would say so instead.
const NOWHERE = ['--url', '127.0.0.1:9'];

describe('did you mean', () => {
  it('suggests the command a typo, another case or another store’s verb meant', async () => {
    const cases: [string[], string][] = [
      [['gte', 'k'], 'get'],
      [['sett', 'k', 'v'], 'set'],
      [['GET', 'k'], 'get'],
      [['delete', 'k'], 'del'],
      [['put', 'k', 'v'], 'set'],
      [['clustr'], 'cluster'],
    ];
    for (const [argv, meant] of cases) {
      const r = await runCli([...NOWHERE, ...argv]);
      assert.equal(r.code, 2, argv.join(' '));
      assert.equal(
        r.stderr,
        `distkv: unknown command "${argv[0]!}" (did you mean "${meant}"?)\nRun "distkv --help" for the commands.\n`,
      );
    }
  });

  it('suggests the option a typo meant, naming it as typed on the command line', async () => {
    const r = await runCli(['set', 'k', 'v', '--tll', '5', ...NOWHERE]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^distkv set: unknown option --tll \(did you mean --ttl\?\)\n/);
    const s = await runCli(['scan', '--limt', '3', ...NOWHERE]);
    assert.match(s.stderr, /^distkv scan: unknown option --limt \(did you mean --limit\?\)\n/);
  });

  it('suggests nothing for a word far from every name', async () => {
    const r = await runCli([...NOWHERE, 'frobnicate']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'distkv: unknown command "frobnicate"\nRun "distkv --help" for the commands.\n');
    assert.equal(didYouMean('x', ['get', 'set']), undefined);
    assert.equal(didYouMean('ab', ['get', 'set']), undefined);
  });

  it('counts a swap of neighbours as one edit', () => {
    assert.equal(editDistance('gte', 'get'), 1);
    assert.equal(editDistance('wacth', 'watch'), 1);
    assert.equal(editDistance('', 'del'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
  });
});
