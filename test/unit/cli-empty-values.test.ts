/**
 * An option given an empty value (`--file=`, `--config ""`, `--from "$CURSOR"` with CURSOR unset)
 * is a usage mistake naming the option, where "" names nothing. It used to travel on: `set k
 * --file=` said "cannot read : no such file or directory", `failover --shard=` "--shard : no such
 * shard", `watch --from=` watched from now as if no cursor were given, and `serve --config=`
 * "invalid configuration in :".
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgs, UsageError } from '../../src/cli/args.js';
import { freePort } from '../helpers/ports.js';
import { runCli } from '../helpers/server-process.js';

describe('options that need a value refuse an empty one', () => {
  it('parseArgs refuses "" for a nonEmpty option, in both spellings, and keeps it for the others', () => {
    const specs = {
      file: { type: 'string', valueName: 'FILE', nonEmpty: true, help: '' },
      after: { type: 'string', valueName: 'KEY', help: '' },
    } as const;
    for (const argv of [['--file='], ['--file', '']])
      assert.throws(
        () => parseArgs(argv, specs),
        (err: unknown) =>
          err instanceof UsageError && err.message === '--file needs a value (FILE), got an empty one',
        JSON.stringify(argv),
      );
    assert.equal(parseArgs(['--after='], specs).options.get('after'), '');
  });

  it('every such option of every command exits 2 naming it, before doing anything', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const cases: [string, string[], string][] = [
      ['set', ['set', 'k', '--file=', '--url', closed], '--file needs a value (FILE)'],
      ['watch', ['watch', 'p', '--from=', '--url', closed], '--from needs a value (CURSOR)'],
      ['failover', ['failover', '--shard=', '--url', closed], '--shard needs a value (NAME)'],
      ['failover', ['failover', '--shard', 's', '--to', '', '--url', closed], '--to needs a value (ADDR)'],
      ['serve', ['serve', '--config='], '--config needs a value (FILE)'],
      ['serve', ['serve', '--data-dir', ''], '--data-dir needs a value (DIR)'],
      ['serve', ['serve', '--listen='], '--listen needs a value (HOST:PORT)'],
      ['load', ['load', 'in.jsonl', '--config='], '--config needs a value (FILE)'],
      ['load', ['load', 'in.jsonl', '--data-dir='], '--data-dir needs a value (DIR)'],
      ['map', ['map', 'fetch', '--from='], '--from needs a value (ADDR)'],
      ['map', ['map', 'fetch', '--from', closed, '--config='], '--config needs a value (FILE)'],
      ['bench', ['bench', '--config='], '--config needs a value (FILE)'],
      ['bench', ['bench', '--url', closed, '--report='], '--report needs a value (FILE.html)'],
    ];
    for (const [verb, args, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(
        r.stderr.startsWith(`distkv ${verb}: ${message}, got an empty one\n`),
        `${args.join(' ')}: ${r.stderr}`,
      );
      assert.equal(r.stdout, '', args.join(' '));
    }
  });
});
