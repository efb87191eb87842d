/**
 * What a first-time or careless user of `distkv` ran into (session 43's tester): a value "-h" that
 * printed the help and exited 0 storing nothing, a scan's "more:" hint that a shell read as another
 * key, options typed before the command, `help` on a command that does not exist, a token that was
 * missing or wrong told in the node's words only, and a file that is no backup called damaged.
 * Each runs the real binary against one node that has a token (data endpoints do not need it).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BIN,
  type CliResult,
  type OwnServer,
  REPO_ROOT,
  runCli,
  startOneNode,
} from '../helpers/server-process.js';

const TOKEN = 'first-use-token';

let own: OwnServer | undefined;
after(() => own?.stop());
let node = '';

before(async () => {
  const one = await startOneNode('[server]\nresp_port_offset = 0', [
    '--workers',
    '1',
    '--durability',
    'none',
    '--token',
    TOKEN,
  ]);
  own = one;
  node = one.address;
});

/** cli runs distkv against the test node (no token unless the arguments give one). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli([...args, '--url', node], env);
}

/** keyPath percent-encodes every byte of `key` for a /kv/ URL, so any character reaches the node as it is. */
function keyPath(key: string): string {
  return [...Buffer.from(key)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}

/**
 * put stores `value` at `key` over HTTP (data endpoints need no token): a case's setup, not what
 * it tests (a CLI command costs a process start, ~0.5 s of CPU).
 */
async function put(key: string, value: string): Promise<void> {
  const r = await fetch(`http://${node}/kv/${keyPath(key)}`, { method: 'PUT', body: value });
  assert.equal(r.status, 204, await r.text());
}

/** stored reads `key` over HTTP: a case's check of what a command stored. */
async function stored(key: string): Promise<string> {
  return (await fetch(`http://${node}/kv/${keyPath(key)}`)).text();
}

/** shell runs a command line through /bin/sh, as a user pasting it into a terminal would. */
function shell(line: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', line], {
      cwd: REPO_ROOT,
      env: { ...process.env, DISTKV_TOKEN: '', DISTKV_URL: '', HOME: '/home/someone' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

describe('distkv with arguments that look like options', () => {
  it('stores "-h" given as a value instead of printing the help and exiting 0', async () => {
    const set = await cli(['set', 'flag', '-h']);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^OK \(seq \d+/);
    assert.equal(await stored('flag'), '-h');
    // Before any argument, -h still asks for the help.
    const help = await cli(['get', '-h']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: distkv get KEY/);
  });

  it('takes --json, --token and --ca before the command, as it takes --url', async () => {
    await put('before', 'v');
    const r = await runCli(['--json', '--url', node, 'get', 'before']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { key: 'before', value: 'v' });
    const b = await runCli(['--token', TOKEN, '--url', node, 'cluster', '--json']);
    assert.equal(b.code, 0, b.stderr);
  });

  it('exits 2 for an option before the command that no command takes there, and for options without a command', async () => {
    const bogus = await runCli(['--verbose', 'get', 'k']);
    assert.equal(bogus.code, 2);
    assert.match(
      bogus.stderr,
      /unknown command "--verbose" \(options go after the command; only --url, --token/,
    );
    const noCommand = await runCli(['--url', node]);
    assert.equal(noCommand.code, 2);
    assert.match(noCommand.stderr, /^distkv: --url \S+: no command given\n/);
  });

  it('exits 2 for help on a command that does not exist', async () => {
    const r = await runCli(['help', 'gett']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command "gett"/);
    assert.equal(r.stdout, '');
  });
});

describe('--timeout-ms out of its bound', () => {
  it("is refused naming the option and 1..600000, not the node's timeout_ms", async () => {
    for (const [verb, args] of [
      ['set', ['set', 'tm', 'v']],
      ['del', ['del', 'tm']],
    ] as const)
      for (const bad of ['0', '600001', '-1']) {
        const r = await cli([...args, '--w', '0', '--timeout-ms', bad]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(`^distkv ${verb}: --timeout-ms must be an integer in 1\\.\\.600000 ms, got "${bad}"`),
        );
      }
  });
});

describe('distkv set KEY - on a terminal', () => {
  it('says it reads the value from the terminal and how to end it, then stores what was typed', async () => {
    // script(1) gives the command a terminal on standard input; what is written to it is typed.
    const line = `node ${BIN} set typed - --url ${node}`;
    const r = await new Promise<CliResult>((resolve) => {
      const child = spawn('script', ['-qec', line, '/dev/null'], { cwd: REPO_ROOT });
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      const timer = setTimeout(() => child.kill(), 20000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr: '' });
      });
      child.stdin.write('typed value\n');
      setTimeout(() => child.stdin.end('\x04'), 500);
    });
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /reading standard input from the terminal: type the value, then Ctrl-D/);
    assert.equal(await stored('typed'), 'typed value\n');
  });
});

describe('the scan "more:" hint pasted into a shell', () => {
  it('goes on after the key the page ended at, whatever characters the key holds', async () => {
    // Each pair: a key the page ends at, then the key the next page must start with.
    const pairs: [string, string][] = [
      ['d$HOME', 'd$HOMF'],
      ['t\tb', 't\tc'],
      ['q"a\\b', 'q"a\\c'],
      ["s'x`y`!", "s'x`y`!z"],
    ];
    for (const [k, next] of pairs) {
      await put(k, '1');
      await put(next, '2');
    }
    for (const [k, next] of pairs) {
      const prefix = k.slice(0, 1);
      const first = await cli(['scan', prefix, '--limit', '1', '--json']);
      assert.equal(first.code, 0, first.stderr);
      assert.equal((JSON.parse(first.stdout) as { key: string }).key, k);
      const hint = /\(more: (.*), or --all\)/.exec(first.stderr)?.[1];
      assert.ok(hint !== undefined, first.stderr);
      const second = await shell(`node ${BIN} scan ${prefix} --limit 1 --json --url ${node} ${hint}`);
      assert.equal(second.code, 0, `${hint}: ${second.stderr}`);
      const got = second.stdout === '' ? undefined : (JSON.parse(second.stdout) as { key: string }).key;
      assert.equal(got, next, `after the hint ${hint}`);
    }
  });
});

describe('a cluster with a token', () => {
  it('says how to give the token when it is missing, and that the one given was refused', async () => {
    const dir = own!.dir;
    const missing = await cli(['backup', join(dir, 'a.dkv')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /UNAUTHORIZED: .*give it with --token TOKEN or env DISTKV_TOKEN/);
    const wrong = await cli(['backup', join(dir, 'b.dkv'), '--token', 'not-it']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /UNAUTHORIZED: .*the --token given is not the nodes' server\.token/);
    const fromEnv = await cli(['backup', join(dir, 'c.dkv')], { DISTKV_TOKEN: 'not-it' });
    assert.equal(fromEnv.code, 1);
    assert.match(fromEnv.stderr, /UNAUTHORIZED: .*DISTKV_TOKEN is not the nodes' server\.token/);
    const right = await cli(['backup', join(dir, 'd.dkv'), '--token', TOKEN]);
    assert.equal(right.code, 0, right.stderr);
  });
});

describe('distkv restore of a file that is no backup', () => {
  it('says it is not a backup, not that a backup is damaged', async () => {
    const file = join(own!.dir, 'dump.jsonl');
    writeFileSync(file, '{"key":"a","value":"1"}\n{"key":"b","value":"2"}\n');
    const r = await cli(['restore', file, '--force']);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /is not a usable backup: it is not a distkv backup \(it does not start with "DKVB"/,
    );
    assert.doesNotMatch(r.stderr, /damaged/);
  });
});
