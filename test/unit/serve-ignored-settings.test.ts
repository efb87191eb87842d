/**
 * `distkv serve` says which of the settings it was given it does not use (src/cli/serve-run.ts
 * `ignoredSettings`, logged at warn at the start): `--workers` with `--inline` (the stores run on
 * the main thread) and `--durability` / `--repair` with the memory engine (nothing on disk). An
 * operator-tester found them accepted without a word, and an inline node's log naming "worker 0".
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ParsedArgs } from '../../src/cli/args.js';
import { ignoredSettings } from '../../src/cli/serve-run.js';
import type { Config } from '../../src/config/schema.js';

const args = (o: Record<string, string | boolean>): ParsedArgs => ({
  options: new Map(Object.entries(o)),
  positionals: [],
});
const engine = (e: string): Config => ({ storage: { engine: e } }) as unknown as Config;

describe('serve: settings given and not used', () => {
  it('names --workers with --inline', () => {
    assert.deepEqual(ignoredSettings(args({ inline: true, workers: '3' }), engine('lsm')), [
      '--inline runs the stores on the main thread: --workers is ignored',
    ]);
  });

  it('names --durability and --repair with the memory engine', () => {
    const w = ignoredSettings(args({ durability: 'fsync', repair: true }), engine('memory'));
    assert.equal(w.length, 2);
    assert.match(w[0]!, /--durability is ignored/);
    assert.match(w[1]!, /--repair is ignored/);
  });

  it('says nothing when every setting given is used', () => {
    assert.deepEqual(ignoredSettings(args({ inline: true }), engine('lsm')), []);
    assert.deepEqual(
      ignoredSettings(args({ workers: '2', durability: 'fsync', repair: true }), engine('lsm')),
      [],
    );
  });
});
