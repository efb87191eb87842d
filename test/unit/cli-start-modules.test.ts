/**
 * `distkv` loads the module of the verb it runs, and no other: main.ts imported every verb's module
 * (the client library, backup, restore, watch) for any command, so `distkv --version` loaded 73
 * modules and took ~90 ms more than a bare node to start, and so did every call of a script. Here a
 * module-loading hook (`--import` through NODE_OPTIONS) lists the modules each command loads.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
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

  /** traced runs `distkv <args>` and returns its result and the dist/src modules it loaded ("cli/main"). */
  async function traced(args: string[]): Promise<CliResult & { modules: string[] }> {
    const log = join(dir, 'modules.log');
    rmSync(log, { force: true });
    const r = await runCli(args, {
      NODE_OPTIONS: `--import=${pathToFileURL(join(dir, 'register.mjs')).href}`,
      CLI_START_MODULE_LOG: log,
    });
    const modules = readFileSync(log, 'utf8')
      .split('\n')
      .map((url) => /\/dist\/src\/(.+)\.js$/.exec(url)?.[1])
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

  it('a key verb loads the client library, not backup, restore or the server', async () => {
    const r = await traced(['get', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: distkv get KEY/);
    assert.ok(r.modules.includes('client/client'), r.modules.join(' '));
    for (const m of ['cli/backup', 'cli/restore', 'cli/serve', 'cli/watch-command'])
      assert.ok(!r.modules.includes(m), `get loaded ${m}`);
    assert.deepEqual(
      r.modules.filter((m) => m.startsWith('server/')),
      [],
    );
  });

  it('serve loads the server, not the client library', async () => {
    const r = await traced(['serve', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.modules.includes('cli/serve'), r.modules.join(' '));
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
