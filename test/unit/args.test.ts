import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listOption, parseArgs, stringOption, UsageError } from '../../src/cli/args.js';

const specs = {
  config: { type: 'string', help: '' },
  node: { type: 'list', help: '' },
  help: { type: 'boolean', help: '' },
} as const;

describe('command-line parsing', () => {
  it('lets a later option override an earlier one (npm start -- --config other.toml)', () => {
    const a = parseArgs(['--config', 'a.toml', '--config=b.toml'], specs);
    assert.equal(stringOption(a, 'config'), 'b.toml');
  });

  it('collects repeated and comma-separated list options', () => {
    const a = parseArgs(['--node', '127.0.0.1:1,127.0.0.1:2', '--node=127.0.0.1:3'], specs);
    assert.deepEqual(listOption(a, 'node'), ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3']);
  });

  it('rejects unknown options and missing values with a UsageError', () => {
    assert.throws(() => parseArgs(['--colour', 'x'], specs), UsageError);
    assert.throws(() => parseArgs(['--config'], specs), /needs a value/);
    assert.throws(() => parseArgs(['--help=yes'], specs), /takes no value/);
  });
});
