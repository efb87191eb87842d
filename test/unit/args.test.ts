import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listOption, parseArgs, stringOption, UsageError } from '../../src/cli/args.js';
import { endpoints, positionals } from '../../src/cli/connect.js';

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

  it('rejects a list option given with no item, rather than falling back to its default', () => {
    for (const argv of [['--node', ''], ['--node='], ['--node', ', ,']])
      assert.throws(() => parseArgs(argv, specs), /--node needs a value/, JSON.stringify(argv));
  });
});

describe('client verb arguments', () => {
  const connectSpecs = { url: { type: 'list', help: '' } } as const;

  it('takes nodes from --url, else DISTKV_URL, else 127.0.0.1:8080, as origins', () => {
    const given = parseArgs(['--url', 'a:1,http://b:2', '--url=https://c:3'], connectSpecs);
    assert.deepEqual(endpoints(given, { DISTKV_URL: 'ignored:9' }), [
      'http://a:1',
      'http://b:2',
      'https://c:3',
    ]);
    const none = parseArgs([], connectSpecs);
    assert.deepEqual(endpoints(none, { DISTKV_URL: 'x:5, y:6' }), ['http://x:5', 'http://y:6']);
    assert.deepEqual(endpoints(none, {}), ['http://127.0.0.1:8080']);
  });

  it('reports a bad address as a UsageError naming where it came from', () => {
    assert.throws(
      () => endpoints(parseArgs(['--url', 'ftp://a:1'], connectSpecs), {}),
      (err: unknown) => {
        return err instanceof UsageError && err.message.startsWith('--url: "ftp://a:1"');
      },
    );
    assert.throws(
      () => endpoints(parseArgs([], connectSpecs), { DISTKV_URL: 'a:1/x' }),
      /^UsageError: DISTKV_URL: /,
    );
  });

  it('checks the number of positional arguments', () => {
    const args = parseArgs(['a', 'b'], specs);
    assert.deepEqual(positionals(args, 1, 2, 'U'), ['a', 'b']);
    assert.throws(() => positionals(args, 3, 3, 'distkv x A B C'), /missing argument: distkv x A B C/);
    assert.throws(() => positionals(args, 0, 1, 'distkv x [A]'), /unexpected argument "b": distkv x \[A\]/);
  });
});
