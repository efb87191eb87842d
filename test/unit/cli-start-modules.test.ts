/**
 * `distkv` loads the module of the verb it runs, and no other: main.ts imported every verb's module
 * (the client library, backup, restore, watch) for any command, so `distkv --version` loaded 73
 * modules and took ~90 ms more than a bare node to start, and so did every call of a script. Here a
 * module-loading hook (`--import` through NODE_OPTIONS) lists the files of the bundle each command
 * loads, and bundle/modules.json the modules of src/ each file holds.
 * A verb's --help and a mistake in its options load neither the client library (connect.ts imported
 * it up front: `get --help` loaded ~45 client modules) nor the server (`serve --help` loaded ~180
 * modules, ~300 ms): only the run loads them.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { runCli, type CliResult } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

// The hooks run on their own thread: they append each module's URL to the file the env names.
const HOOKS = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.CLI_START_MODULE_LOG, url + '\\n');
  return next(url, context);
}
`;
const REGISTER = `import { register } from 'node:module';
register(new URL('./hooks.mjs', import.meta.url));
`;

/**
 * BUNDLED names the modules each file of the bundle `bin/distkv.js` runs holds (scripts/bundle.mjs),
 * by its path from the repository's root (ROOT): a command's modules are those of the files it loaded.
 */
const ROOT = new URL('../../../', import.meta.url).href;
const BUNDLED = new Map(
  Object.entries(
    JSON.parse(readFileSync(new URL('bundle/modules.json', ROOT), 'utf8')) as Record<string, string[]>,
  ),
);

/** The modules that define a verb (src/cli), each of which the light commands must not load. */
const VERB_MODULES = [
  'connect',
  'kv-commands',
  'watch-command',
  'cluster-commands',
  'backup',
  'restore',
  'serve',
  'failover-command',
  'diverged-command',
  'map-command',
  'load',
  'bench',
];

describe('modules a distkv command loads', () => {
  // Made here, not in before(): an after() registered inside a before() runs when that hook ends.
  const dir = tempDir(after);
  before(() => {
    writeFileSync(join(dir, 'hooks.mjs'), HOOKS);
    writeFileSync(join(dir, 'register.mjs'), REGISTER);
  });

  /** traced runs `distkv <args>` and returns its result and the modules of src/ it loaded ("cli/main"). */
  async function traced(args: string[]): Promise<CliResult & { modules: string[] }> {
    const log = join(dir, 'modules.log');
    rmSync(log, { force: true });
    const r = await runCli(args, {
      NODE_OPTIONS: `--import=${pathToFileURL(join(dir, 'register.mjs')).href}`,
      CLI_START_MODULE_LOG: log,
    });
    const modules = readFileSync(log, 'utf8')
      .split('\n')
      .flatMap((url) => BUNDLED.get(url.slice(ROOT.length)) ?? [])
      .map((m) => /^src\/(.+)\.ts$/.exec(m)?.[1])
      .filter((m): m is string => m !== undefined);
    // The hook saw the command itself: an empty list would pass every claim below.
    assert.ok(modules.includes('cli/main'), `cli/main not among the modules traced: ${modules.join(' ')}`);
    return { ...r, modules };
  }

  const heavy = (modules: string[]): string[] =>
    modules.filter(
      (m) => m.startsWith('client/') || m.startsWith('server/') || VERB_MODULES.some((v) => m === `cli/${v}`),
    );

  it('--version, --help, help and a mistyped command load no verb, client or server module', async () => {
    const cases: [string[], number][] = [
      [['--version'], 0],
      [['--help'], 0],
      [['help'], 0],
      [[], 2],
      [['gte', 'k'], 2],
    ];
    for (const [args, code] of cases) {
      const r = await traced(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.deepEqual(heavy(r.modules), [], `distkv ${args.join(' ')} loaded them`);
    }
  });

  /**
   * CLIENT_PARSERS are the client modules that read what a verb was given (an address, a token, a
   * key's bytes) or a node's error, without the client: a verb that has not connected loads no other.
   */
  const CLIENT_PARSERS = ['client/endpoint', 'client/key-bytes', 'client/wire-decode'];

  it("a client verb's --help and a mistake in its options or arguments load no client or server module", async () => {
    const cases: [string[], number, RegExp][] = [
      [['get', '--help'], 0, /^Usage: distkv get KEY/],
      [['scan', '--help'], 0, /^Usage: distkv scan/],
      [['watch', '--help'], 0, /^Usage: distkv watch/],
      [['cluster', '--help'], 0, /^Usage: distkv cluster/],
      [['backup', '--help'], 0, /^Usage: distkv backup FILE/],
      [['restore', '--help'], 0, /^Usage: distkv restore FILE/],
      [['help', 'set'], 0, /^Usage: distkv set KEY/],
      [['get', '--bogus', 'k'], 2, /^$/],
      [['get', 'k', '--refused-wait-ms', '-1'], 2, /^$/],
      [['--url', 'bad host', 'stats'], 2, /^$/],
      [['get'], 2, /^$/],
      [['set', 'k'], 2, /^$/],
      [['scan', 'a', 'b'], 2, /^$/],
      [['cluster', 'x'], 2, /^$/],
      [['restore'], 2, /^$/],
    ];
    for (const [args, code, stdout] of cases) {
      const r = await traced(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, stdout, args.join(' '));
      assert.deepEqual(
        r.modules.filter(
          (m) => (m.startsWith('client/') && !CLIENT_PARSERS.includes(m)) || m.startsWith('server/'),
        ),
        [],
        `distkv ${args.join(' ')} loaded them`,
      );
    }
  });

  it('a key verb that runs loads the client library, not backup, restore or the server', async () => {
    const dead = `127.0.0.1:${String(await freePort())}`; // nothing listens there
    const r = await traced(['get', 'k', '--url', dead, '--refused-wait-ms', '0']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^distkv get: /);
    assert.ok(r.modules.includes('client/client'), r.modules.join(' '));
    for (const m of ['cli/backup', 'cli/restore', 'cli/serve', 'cli/watch-command'])
      assert.ok(!r.modules.includes(m), `get loaded ${m}`);
    assert.deepEqual(
      r.modules.filter((m) => m.startsWith('server/')),
      [],
    );
  });

  it('serve --help and a mistake in its options load neither the server nor the client library', async () => {
    const cases: [string[], number][] = [
      [['serve', '--help'], 0],
      [['help', 'serve'], 0],
      [['serve', '--bogus'], 2],
      [['serve', 'extra'], 2],
      [['serve', '--log-level', 'loud'], 2],
      [['serve', '--workers', 'x'], 2],
    ];
    for (const [args, code] of cases) {
      const r = await traced(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.modules.includes('cli/serve'), r.modules.join(' '));
      assert.deepEqual(heavy(r.modules), ['cli/serve'], `distkv ${args.join(' ')} loaded them`);
    }
  });

  it('a config mistake of serve answers before the server loads', async () => {
    const r = await traced(['serve', '--config', join(dir, 'missing.toml')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /missing\.toml/);
    assert.ok(!r.modules.includes('server/node'), 'serve loaded server/node');
    assert.deepEqual(
      r.modules.filter((m) => m.startsWith('client/') || m === 'cli/connect'),
      [],
    );
  });

  it('a name of Object.prototype is an unknown command, not a verb', async () => {
    // The verb table was a plain object: "constructor" found Object's, and failed with exit 1.
    for (const name of ['constructor', 'toString']) {
      const r = await runCli([name]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `distkv: unknown command "${name}"\nRun "distkv --help" for the commands.\n`);
    }
  });
});
