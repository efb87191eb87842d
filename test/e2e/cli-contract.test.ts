/**
 * The CLI contract: every verb answers --help with exit 0; every mistake (bad address, missing
 * file, missing argument, unknown option or command, unreachable node, missing key, damaged backup)
 * exits with its documented code (main.ts EXIT_CODES) and one clean message, never a stack trace;
 * output is exact bytes when piped and readable text with a newline on a terminal; --json is
 * binary-safe; the bench progress line keeps redrawing on a terminal.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { BIN, REPO_ROOT, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const VERBS = ['serve', 'get', 'set', 'del', 'scan', 'cluster', 'stats', 'backup', 'restore', 'bench'];
const OK = 0;
const FAILED = 1;
const USAGE = 2;

let server: ServerProcess | undefined;
after(async () => {
  await server?.stop();
});
const dir = tempDir(after);
let node = '';
let closedPort = 0;
/**
 * unreachable is `get` at the closed port, started in `before`: the CLI retries a node that refuses
 * connections (10 s by default, 1.5 s here with --refused-wait-ms) before it gives up, and waiting
 * for it in its own case alone was a quarter of the file.
 */
let unreachable: Promise<Run>;
/** unreachableStart is when `unreachable` was started (performance.now()). */
let unreachableStart = 0;
/** unreachableMs is how long `unreachable` ran. */
let unreachableMs = 0;

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** cli runs distkv with DISTKV_URL pointing at the test node (unless env overrides it), feeding `input` to stdin. */
function cli(args: string[], env: Record<string, string> = {}, input?: Buffer): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, DISTKV_URL: node, DISTKV_DEBUG: '', ...env },
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.end(input);
    // 'close', not 'exit': a loaded machine can deliver the last of stdout after the exit event.
    child.on('close', (code) => {
      resolve({ code, stdout: Buffer.concat(out), stderr });
    });
  });
}

/**
 * put stores `value` at `key` over HTTP: a case's setup, not what it checks (a CLI command costs
 * a process start, ~0.5 s of CPU; `set` itself is checked by the cases that name it).
 */
async function put(key: string, value: string): Promise<void> {
  const r = await fetch(`http://${node}/kv/${encodeURIComponent(key)}`, { method: 'PUT', body: value });
  assert.equal(r.status, 204, await r.text());
}

/** onTerminal runs distkv under a pseudo-terminal (util-linux `script`) and returns what it wrote. */
function onTerminal(args: string[]): string {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], {
    cwd: REPO_ROOT,
    env: { ...process.env, DISTKV_URL: node },
    encoding: 'utf8',
    timeout: 60000,
  });
  return r.stdout;
}

const hasScript = spawnSync('script', ['--version']).status === 0;

/** assertClean checks a failure: the expected code and a short message without a stack trace. */
function assertClean(r: Run, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `exit ${String(r.code)}, stderr: ${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `a stack trace:\n${r.stderr}`);
  assert.ok(r.stderr.split('\n').length <= 3, `more than two lines:\n${r.stderr}`);
}

before(async () => {
  const [port, closed] = await freePorts(2);
  node = `127.0.0.1:${port}`;
  closedPort = closed!;
  unreachableStart = performance.now();
  unreachable = cli(['get', '--url', `127.0.0.1:${closedPort}`, '--refused-wait-ms', '1500', 'k']);
  const config = writeConfig(dir, [{ address: node }, { address: node }]);
  server = await ServerProcess.start(
    ['--config', config, '--data-dir', join(dir, 'data'), '--workers', '1', '--durability', 'none'],
    `http://${node}/healthz`,
    { DISTKV_LOG_LEVEL: 'warn' },
  );
});

describe('distkv CLI contract', () => {
  it('answers --help on every verb, `help VERB`, --help and --version with exit 0', async () => {
    const runs = await Promise.all([
      ...VERBS.map((v) => cli([v, '--help'])),
      cli(['help', 'scan']),
      cli(['--help']),
      cli(['--version']),
    ]);
    runs.forEach((r, i) => {
      assert.equal(r.code, OK, `${VERBS[i] ?? 'help'}: ${r.stderr}`);
      assert.equal(r.stderr, '');
      assert.match(r.stdout.toString(), /Usage: distkv|^distkv \d+\.\d+\.\d+/);
    });
    assert.match(runs.at(-1)!.stdout.toString(), /^distkv \d+\.\d+\.\d+ \(node v\d+/);
  });

  it('exits 2 with one line for command-line mistakes', async () => {
    const [unknownVerb, unknownFlag, missingArg, extraArg, badUrl, badEnvUrl, badInt] = await Promise.all([
      cli(['frobnicate']),
      cli(['get', '--colour', 'k']),
      cli(['get']),
      cli(['del', 'a', 'b']),
      cli(['get', '--url', 'ftp://example', 'k']),
      cli(['get', 'k'], { DISTKV_URL: 'http://host/path' }),
      cli(['scan', '--limit', 'many']),
    ]);
    assertClean(unknownVerb, USAGE, /unknown command "frobnicate"/);
    assertClean(unknownFlag, USAGE, /unknown option --colour/);
    assertClean(missingArg, USAGE, /missing argument: distkv get KEY/);
    assertClean(extraArg, USAGE, /unexpected argument "b"/);
    assertClean(badUrl, USAGE, /--url: "ftp:\/\/example" is not a node address/);
    assertClean(badEnvUrl, USAGE, /DISTKV_URL: "http:\/\/host\/path" is not a node address/);
    assertClean(badInt, USAGE, /--limit must be an integer in 1\.\.10000 \(keys per page\), got "many"/);
  });

  it('exits 2 for file mistakes: a missing value file, an unreadable CA, a damaged backup, unwritable backup and report paths', async () => {
    const garbage = join(dir, 'garbage.dkv');
    writeFileSync(garbage, 'not a backup at all');
    const [missing, ca, damaged, unwritable, report] = await Promise.all([
      cli(['set', 'k', '--file', '/nonexistent/value']),
      cli(['get', 'k', '--ca', join(dir, 'no-ca.pem')]),
      cli(['restore', garbage]),
      cli(['backup', join(dir, 'no-such-dir', 'b.dkv')]),
      cli(['bench', '--report', join(dir, 'no-such-dir', 'r.html')]),
    ]);
    assertClean(missing, USAGE, /cannot read \/nonexistent\/value: no such file or directory/);
    assertClean(ca, USAGE, /cannot read .*no-ca\.pem: no such file or directory/);
    assertClean(damaged, USAGE, /is not a usable backup: it is not a distkv backup/);
    assertClean(unwritable, USAGE, /cannot write .*b\.dkv\.partial: no such file or directory/);
    assertClean(report, USAGE, /cannot write .*r\.html: no such file or directory/);
  });

  it('exits 1 for an unreachable node and a missing key', async () => {
    const [down, missing, missingJson] = await Promise.all([
      unreachable.then((r) => {
        unreachableMs = performance.now() - unreachableStart;
        return r;
      }),
      cli(['get', 'never-set']),
      cli(['get', '--json', 'never-set']),
    ]);
    assertClean(down, FAILED, /SHARD_UNREACHABLE: no node answered \/cluster/);
    // It waited for the node as long as --refused-wait-ms says (its note rounds what is left up to
    // whole seconds: 2, or 1 when the first refusal came late), and said so.
    assert.match(down.stderr, /nothing listens at .*trying again \(up to [12] s; Ctrl-C gives up\)/);
    assert.ok(unreachableMs >= 1500, `gave up after ${Math.round(unreachableMs)} ms`);
    assertClean(missing, FAILED, /key "never-set" not found/);
    assert.equal(missingJson.code, FAILED);
    assert.deepEqual(JSON.parse(missingJson.stdout.toString()), { key: 'never-set', found: false });
  });

  it('takes host:port and http(s)://host:port, and DISTKV_URL as the default (the first that answers)', async () => {
    assert.equal((await cli(['set', 'where', 'here', '--url', node])).code, OK);
    const [got, fallback] = await Promise.all([
      cli(['get', 'where', '--url', `http://${node}`]),
      cli(['get', 'where'], { DISTKV_URL: `127.0.0.1:${closedPort},${node}` }),
    ]);
    assert.equal(got.stdout.toString(), 'here');
    assert.equal(fallback.stdout.toString(), 'here', fallback.stderr);
  });

  it('takes --url before the command too, as etcdctl and redis-cli take their endpoint', async () => {
    const none = { DISTKV_URL: `127.0.0.1:${closedPort}` };
    // Independent commands, run together: each costs a process start.
    const [set, joined, noCommand, unknown] = await Promise.all([
      cli(['--url', node, 'set', 'first', 'url'], none),
      cli([`--url=${node}`, 'set', '--', 'dash', '-v'], none),
      cli(['--url', node], none),
      cli(['--url', node, 'frobnicate'], none),
    ]);
    assert.equal(set.code, OK, set.stderr);
    const first = await cli(['--url', node, 'get', 'first'], none);
    assert.equal(first.stdout.toString(), 'url', first.stderr);
    assert.equal(joined.code, OK, joined.stderr);
    assert.equal(await (await fetch(`http://${node}/kv/dash`)).text(), '-v');
    assertClean(noCommand, USAGE, /no command given/);
    assertClean(unknown, USAGE, /unknown command "frobnicate"/);
  });

  it('keeps binary values exact: raw bytes when piped, value_base64 in --json, escaped in scan', async () => {
    const bytes = Buffer.from([0, 1, 0xff, 0x0a, 0x80, 0x22]);
    const file = join(dir, 'binary');
    writeFileSync(file, bytes);
    const sets = await Promise.all([
      cli(['set', 'bin:1', '--file', file]),
      cli(['set', 'bin:2', '-'], {}, Buffer.from('from stdin')),
    ]);
    for (const r of sets) assert.equal(r.code, OK, r.stderr);
    const [raw, json, scan, text] = await Promise.all([
      cli(['get', 'bin:1']),
      cli(['get', '--json', 'bin:1']),
      cli(['scan', '--json', 'bin:']),
      cli(['scan', 'bin:']),
    ]);
    assert.deepEqual(raw.stdout, bytes);
    assert.deepEqual(JSON.parse(json.stdout.toString()), {
      key: 'bin:1',
      value_base64: bytes.toString('base64'),
    });
    assert.deepEqual(
      scan.stdout
        .toString()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
      [
        { key: 'bin:1', value_base64: bytes.toString('base64') },
        { key: 'bin:2', value: 'from stdin' },
      ],
    );
    assert.equal(text.stdout.toString(), 'bin:1\t"\\x00\\x01\\xff\\n\\x80\\""\nbin:2\tfrom stdin\n');
    assert.doesNotMatch(text.stdout.toString(), /undefined/);
  });

  it('says whether del removed a key', async () => {
    await put('gone', 'x');
    assert.equal((await cli(['del', 'gone'])).stdout.toString(), 'OK (deleted)\n');
    assert.deepEqual(JSON.parse((await cli(['del', '--json', 'gone'])).stdout.toString()), {
      key: 'gone',
      existed: false,
    });
  });

  it('pages scans with --limit and follows them with --all', async () => {
    for (let i = 0; i < 5; i++) await put(`page:${i}`, String(i));
    const [first, all] = await Promise.all([
      cli(['scan', 'page:', '--limit', '2']),
      cli(['scan', 'page:', '--limit', '2', '--all']),
    ]);
    assert.equal(first.stdout.toString(), 'page:0\t0\npage:1\t1\n');
    assert.match(first.stderr, /more: --after "page:1"/);
    assert.equal(all.stdout.toString().trim().split('\n').length, 5);
  });

  it('gets, sets and deletes a key that is not UTF-8 with --key-base64, as scan --json names it', async () => {
    // An argument is text: `kb:\xff` could not be typed, and the scan's escaped display of it
    // ("kb:\xff" quoted) is another key.
    const key = Buffer.from([0x6b, 0x62, 0x3a, 0xff]);
    const b64 = key.toString('base64');
    // The usage mistakes send nothing: they run alongside the writes.
    const mistakes = Promise.all([
      cli(['get', 'k', '--key-base64', b64]),
      cli(['del', '--key-base64', 'not base64!']),
    ]);
    const set = await cli(['set', '--key-base64', b64, 'v1', '--json']);
    assert.equal(set.code, OK, set.stderr);
    assert.equal((JSON.parse(set.stdout.toString()) as { key_base64?: string }).key_base64, b64);
    const [scan, get] = await Promise.all([
      cli(['scan', 'kb:', '--json']),
      cli(['get', '--key-base64', b64]),
    ]);
    assert.equal((JSON.parse(scan.stdout.toString()) as { key_base64?: string }).key_base64, b64);
    assert.equal(get.code, OK, get.stderr);
    assert.equal(get.stdout.toString(), 'v1');
    assert.equal((await cli(['del', '--key-base64', b64])).stdout.toString(), 'OK (deleted)\n');
    const gone = await cli(['get', '--key-base64', b64]);
    assertClean(gone, FAILED, /key "kb:\\xff" not found/);
    for (const r of await mistakes) assert.equal(r.code, USAGE, r.stderr);
  });

  it('gives the next cursor of a key that is not UTF-8 as --after-base64, which resumes exactly', async () => {
    // `pb:\x801` shows as `pb:\uFFFD1`, whose bytes sort after `pb:\x802`: an --after of that
    // text skipped `pb:\x802` and went on from `pb:\xff1`.
    const keys = [
      [0x80, 0x31],
      [0x80, 0x32],
      [0xff, 0x31],
    ].map((k) => Buffer.from([0x70, 0x62, 0x3a, ...k]));
    for (const k of keys) {
      const path = [...k].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
      assert.equal((await fetch(`http://${node}/kv/${path}`, { method: 'PUT', body: 'v' })).status, 204);
    }
    // The usage mistakes send nothing: they run alongside the pages.
    const mistakes = Promise.all([
      cli(['scan', '--after', 'a', '--after-base64', 'YQ==']),
      cli(['scan', '--after-base64', 'not base64!']),
    ]);
    const lines: string[] = [];
    let from: string[] = [];
    for (let page = 0; page < 5; page++) {
      const r = await cli(['scan', 'pb:', '--limit', '1', ...from]);
      assert.equal(r.code, OK, r.stderr);
      lines.push(
        ...r.stdout
          .toString()
          .split('\n')
          .filter((l) => l !== ''),
      );
      const more = /more: (--after-base64|--after) (\S+),/.exec(r.stderr);
      if (more === null) break;
      assert.equal(more[1], '--after-base64', r.stderr);
      from = ['--after-base64', more[2]!];
    }
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.equal(new Set(lines).size, 3, lines.join('\n'));
    for (const r of await mistakes) assert.equal(r.code, USAGE, r.stderr);
  });

  it(
    'ends a value with a newline on a terminal only',
    { skip: hasScript ? false : 'no `script` command for a pseudo-terminal' },
    async () => {
      await put('tty', 'hello');
      // Started first, it runs while the terminal's run (spawnSync) holds this process.
      const piped = cli(['get', 'tty']);
      assert.equal(onTerminal(['get', 'tty']), 'hello\r\n');
      assert.equal((await piped).stdout.toString(), 'hello');
    },
  );

  it(
    'redraws the bench progress line on a terminal',
    { skip: hasScript ? false : 'no `script` command for a pseudo-terminal' },
    () => {
      const out = onTerminal([
        'bench',
        '--url',
        `http://${node}`,
        '--duration',
        '2',
        '--warmup',
        '0',
        '--threads',
        '1',
        '--concurrency',
        '2',
        '--keys',
        '50',
      ]);
      // Each draw shows "N done  M errors", about 4 a second (8 in 2 s); the old code drew once
      // and never again.
      const redraws = out.match(/\d+ done {2}\d+ errors/g)?.length ?? 0;
      assert.ok(redraws >= 4, `${redraws} redraws in:\n${JSON.stringify(out)}`);
      assert.match(out, /throughput/);
    },
  );

  it(
    'shows backup and restore progress on a terminal, erased before the result, and nothing when piped',
    { skip: hasScript ? false : 'no `script` command for a pseudo-terminal' },
    async () => {
      await put('progress', 'shown');
      const file = join(dir, 'progress.dkv');
      // Each draw starts with ERASE_LINE (src/cli/progress-line.ts): the pieces between are lines.
      const drawn = (text: string): string[] => text.split('\r\u001b[K').slice(1);
      const out = drawn(onTerminal(['backup', file]));
      assert.ok(
        out.some((l) => /^backup: shard 1\/2 \(shard-0\): \d+ keys; [\d.]+ MiB written$/.test(l)),
        JSON.stringify(out),
      );
      assert.match(out.at(-1) ?? '', /^shard 0 shard-0: /, 'the line is erased before the result');
      const piped = await cli(['backup', join(dir, 'piped.dkv')]);
      assert.equal(piped.code, OK, piped.stderr);
      assert.equal(piped.stderr, '', 'no progress in a log for a backup this short');
      const restored = drawn(onTerminal(['restore', file, '--force']));
      assert.ok(
        restored.some((l) => /^restore: \d+ keys written$/.test(l)),
        JSON.stringify(restored),
      );
    },
  );
});
