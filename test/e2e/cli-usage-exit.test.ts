/**
 * Exit codes of command-line mistakes that a node (or serve's start) used to catch as runtime
 * failures (exit 1): every one below is a mistake in what the user typed, so it exits 2 (main.ts
 * EXIT_CODES.USAGE) with a message naming the argument, and nothing is written. Runtime failures
 * (a condition that does not hold, a key that does not exist) still exit 1.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { type OwnServer, runCli, startOwnServer } from '../helpers/server-process.js';

const FAILED = 1;
const USAGE = 2;
/** VALUE_LIMIT is the node's server.max_value_bytes: small, so a value over it fits on a command line. */
const VALUE_LIMIT = 4096;

let own: OwnServer | undefined;
after(() => own?.stop());
let dir = '';
let node = '';
let config = '';

before(async () => {
  const [port] = await freePorts(1);
  node = `127.0.0.1:${port}`;
  own = await startOwnServer(
    [{ address: node }],
    `[server]\nresp_port_offset = 0\nmax_value_bytes = ${VALUE_LIMIT}`,
    ['--workers', '1', '--durability', 'none'],
  );
  dir = own.dir;
  config = join(dir, 'sharding.toml');
});

/** cli runs distkv against the test node; a serve that should have refused is stopped after 20 s. */
function cli(args: string[], input?: Buffer): ReturnType<typeof runCli> {
  return runCli([...args, '--url', node], {}, input);
}

/**
 * put stores `value` at `key` over HTTP: a case's setup, not what it tests (a CLI command costs a
 * process start, ~0.5 s of CPU; `set` and `get` themselves are test/e2e/cli-contract.test.ts's).
 */
async function put(key: string, value: string): Promise<void> {
  const r = await fetch(`http://${node}/kv/${encodeURIComponent(key)}`, { method: 'PUT', body: value });
  assert.equal(r.status, 204, await r.text());
}

/** stored reads `key` over HTTP: a case's check that a refused command wrote nothing. */
async function stored(key: string): Promise<string> {
  return (await fetch(`http://${node}/kv/${encodeURIComponent(key)}`)).text();
}

/** assertExit checks an exit code and a one-message stderr without a stack trace. */
function assertExit(r: { code: number | null; stderr: string }, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `exit ${String(r.code)}, stderr: ${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `a stack trace:\n${r.stderr}`);
}

describe('CLI option values a node would refuse', () => {
  it('exits 2 for a --ttl outside 1..ten years, naming the value as typed', async () => {
    await put('ttl', 'v0');
    assertExit(await cli(['set', 'ttl', 'v', '--ttl', '0']), USAGE, /--ttl must be .*1\.\.315360000000.*"0"/);
    // Every refusal names the one bound, whichever check caught it.
    for (const bad of ['99999999999999999', '-5', '1e3'])
      assertExit(
        await cli(['set', 'ttl', 'v', '--ttl', bad]),
        USAGE,
        new RegExp(`--ttl must be an integer in 1\\.\\.315360000000 ms .*"${bad}"`),
      );
    assert.equal(await stored('ttl'), 'v0');
  });

  it("exits 2 for --timeout-ms without --w, naming the CLI options (not the client library's timeoutMs and signal)", async () => {
    const r = await cli(['set', 'tw', 'v', '--timeout-ms', '5']);
    assertExit(r, USAGE, /--timeout-ms bounds the wait for --w .*give --w N too/);
    assert.doesNotMatch(r.stderr, /timeoutMs|signal/);
  });

  it('exits 2 for an --if-match that is not a version, on set and on del', async () => {
    await put('cas', 'v0');
    for (const bad of ['garbage', '00.01', '1.2.3', '"0.1'])
      for (const verb of [
        ['set', 'cas', 'v'],
        ['del', 'cas'],
      ])
        assertExit(await cli([...verb, '--if-match', bad]), USAGE, /--if-match must be a version E\.S/);
    assertExit(
      await cli(['set', 'cas', 'v', '--if-match', '0.1', '--if-none-match']),
      USAGE,
      /--if-match or --if-none-match, not both/,
    );
    assert.equal(await stored('cas'), 'v0');
  });

  it('exits 2 when the node refuses an argument as malformed (an empty key, a page over its bound)', async () => {
    assertExit(await cli(['set', '', 'v']), USAGE, /MISSING_KEY: key is empty/);
    assertExit(await cli(['get', '']), USAGE, /MISSING_KEY/);
    assertExit(await cli(['scan', '--limit', '99999999']), USAGE, /limit must be an integer in 1\.\.10000/);
    assertExit(await cli(['watch', '--from', 'not-a-cursor']), USAGE, /from/);
  });

  it("exits 2 for a value over the node's limit, from a file, stdin or the command line, naming the limit", async () => {
    await put('big', 'v0');
    const limit = VALUE_LIMIT;
    const file = join(dir, 'over-limit');
    writeFileSync(file, Buffer.alloc(limit + 1, 0x61));
    const tooLarge = new RegExp(`VALUE_TOO_LARGE: value is ${limit + 1} bytes; limit is ${limit}`);
    const over = await cli(['set', 'big', '--file', file]);
    assertExit(over, USAGE, tooLarge);
    assertExit(await cli(['set', 'big', '-'], Buffer.alloc(limit + 1)), USAGE, tooLarge);
    assertExit(await cli(['set', 'big', 'a'.repeat(limit + 1)]), USAGE, tooLarge);
    // --help cannot change a node's limit: no hint pointing there
    assert.match(over.stderr, /max_value_bytes/);
    assert.doesNotMatch(over.stderr, /--help/);
    assert.equal(await stored('big'), 'v0');
  });

  it('exits 2 for a --shard or --to that names no shard or replica', async () => {
    assertExit(await cli(['failover', '--shard', 'nope']), USAGE, /--shard nope: no such shard/);
    assertExit(
      await cli(['failover', '--shard', 'shard-0', '--to', '127.0.0.1:1']),
      USAGE,
      /--to 127\.0\.0\.1:1 is not a replica of shard-0/,
    );
  });

  it('still exits 1 for a condition that does not hold and a key that does not exist', async () => {
    await put('held', 'v0');
    assertExit(await cli(['set', 'held', 'v', '--if-match', '0.999999']), FAILED, /PRECONDITION_FAILED/);
    assertExit(await cli(['get', 'never-set']), FAILED, /not found/);
  });
});

describe('distkv serve mistakes', () => {
  it('exits 2 for an argument serve does not take instead of ignoring it', async () => {
    // Had serve ignored it, it would run on the config's port: the test server holds that port,
    // so the start fails at once instead of hanging.
    const r = await runCli(['serve', 'extra', '--config', config, '--data-dir', join(dir, 'other')]);
    assertExit(r, USAGE, /distkv serve: unexpected argument "extra"/);
  });

  it('names a data directory that is a regular file, exit 2', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    for (const dataDir of [file, join(file, 'below')]) {
      const r = await runCli(['serve', '--config', config, '--data-dir', dataDir, '--log-level', 'error']);
      assertExit(r, USAGE, /data directory .*a-file.* is a file, not a directory/);
      assert.doesNotMatch(r.stderr, /EEXIST|ENOTDIR/);
    }
  });
});

describe('distkv load mistakes', () => {
  it('exits 2 for a second FILE instead of loading the first and ignoring it', async () => {
    const input = join(dir, 'two.jsonl');
    writeFileSync(input, '{"key":"k","value":"v"}\n');
    const target = join(dir, 'load-extra');
    const r = await runCli(['load', input, input, '--config', config, '--data-dir', target]);
    assertExit(r, USAGE, /distkv load: unexpected argument/);
    assert.equal(existsSync(target), false, 'nothing was loaded');
  });

  it('exits 2 for a line of FILE that is not a key and value, naming the line', async () => {
    const input = join(dir, 'bad.jsonl');
    writeFileSync(input, '{"key":"k","value":"v"}\nnot json\n');
    const r = await runCli(['load', input, '--config', config, '--data-dir', join(dir, 'load-bad')]);
    assertExit(r, USAGE, /line 2: not JSON/);
  });
});

describe('distkv backup mistakes', () => {
  it('refuses a FILE that is a directory before copying, leaving no FILE.partial behind', async () => {
    const target = join(dir, 'a-dir');
    mkdirSync(target);
    await put('some', 'thing');
    const r = await cli(['backup', target]);
    assertExit(r, USAGE, /cannot write .*a-dir: it is a directory/);
    assert.equal(existsSync(`${target}.partial`), false, 'no partial copy left');
  });
});
