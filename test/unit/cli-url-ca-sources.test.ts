/**
 * Where the CLI's nodes and CA come from is named when they are wrong. `DISTKV_URL=','` (an empty
 * list: a variable built from one that was empty) fell back to 127.0.0.1:8080 without a word, and
 * an empty item (`a,,b`, `a,`) was dropped; `--ca /missing` said "cannot read /missing" without
 * naming --ca (or DISTKV_CA). Each is a usage error (exit 2) naming its option or variable, before
 * anything is sent. DISTKV_URL="" still reads as unset, as DISTKV_CA and DISTKV_TOKEN do.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';

/** An address nothing is asked at: every refusal below comes before a request. */
const NODE = '127.0.0.1:1';

describe('DISTKV_URL and --url with an empty item', () => {
  for (const value of [',', ' ', 'a:1,,b:2', 'a:1,', ' ,a:1'])
    it(`refuses DISTKV_URL=${JSON.stringify(value)} naming it`, async () => {
      const item = value.split(',').findIndex((v) => v.trim() === '') + 1;
      for (const argv of [['get', 'k'], ['failover', '--shard', 's0'], ['bench']]) {
        const r = await runCli(argv, { DISTKV_URL: value });
        assert.equal(r.code, 2, `${argv[0]!}: ${r.stderr}`);
        assert.ok(
          r.stderr.startsWith(
            `distkv ${argv[0]!}: DISTKV_URL ${JSON.stringify(value)}: item ${item} is empty; give HOST:PORT items separated by commas\n`,
          ),
          `${argv[0]!}: ${r.stderr}`,
        );
      }
    });

  for (const value of ['a:1,,b:2', 'a:1,'])
    it(`refuses --url ${JSON.stringify(value)} naming it`, async () => {
      const r = await runCli(['get', 'k', '--url', value]);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(
        r.stderr.startsWith(
          `distkv get: --url ${JSON.stringify(value)}: item ${value.split(',').indexOf('') + 1} is empty; give HOST:PORT items separated by commas\n`,
        ),
        r.stderr,
      );
    });

  it('takes --url over a DISTKV_URL with an empty item, which it does not read', async () => {
    const r = await runCli(['get', 'k', '--url', NODE, '--ca', join('no', 'such', 'ca.pem')], {
      DISTKV_URL: ',',
    });
    assert.equal(r.code, 2, r.stderr);
    assert.doesNotMatch(r.stderr, /DISTKV_URL/);
  });
});

describe('--ca and DISTKV_CA that cannot be read', () => {
  const missing = join('no', 'such', 'ca.pem');

  it('names --ca', async () => {
    for (const argv of [
      ['get', 'k', '--url', NODE, '--ca', missing],
      ['failover', '--shard', 's0', '--url', NODE, '--ca', missing],
    ]) {
      const r = await runCli(argv);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(
        r.stderr.startsWith(`distkv ${argv[0]!}: --ca: cannot read ${missing}: no such file or directory\n`),
        r.stderr,
      );
    }
  });

  it('names DISTKV_CA when the file came from it', async () => {
    const r = await runCli(['get', 'k', '--url', NODE], { DISTKV_CA: missing });
    assert.equal(r.code, 2, r.stderr);
    assert.ok(
      r.stderr.startsWith(`distkv get: DISTKV_CA: cannot read ${missing}: no such file or directory\n`),
      r.stderr,
    );
  });
});
