/**
 * loadConfig: reads a TOML file (the seed's sharding.toml format plus distkv's optional tables),
 * applies command-line overrides and DISTKV_TOKEN, and validates the result.
 */
import { readFileSync } from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import { ConfigError } from '../errors.js';
import { reasonOf } from '../util/fs-reason.js';
import type { Config } from './schema.js';
import { validateConfig } from './validate-config.js';

/** ConfigOverrides are settings given on the command line; they win over the file. */
export interface ConfigOverrides {
  'server.data_dir'?: string;
  'server.workers'?: number;
  'server.token'?: string;
  'storage.engine'?: string;
  'storage.durability'?: string;
}

type Table = Record<string, unknown>;

/**
 * applyOverrides sets the command line's settings (and DISTKV_TOKEN) into `doc` and returns the
 * paths it set, each with where its value came from (for the error that names a bad one). A
 * section the file gives as something other than a table is left as it is: validateConfig reports
 * it (before, the override replaced it and the mistake went unsaid).
 *
 * The token: `--token` (even "", no token) wins; else the file's `server.token`; else DISTKV_TOKEN.
 * Before, an empty `--token ""` counted as unset, and DISTKV_TOKEN took its place.
 */
function applyOverrides(doc: Table, overrides: ConfigOverrides, env: NodeJS.ProcessEnv): Map<string, string> {
  const set = (path: string, value: unknown): void => {
    const [section, key] = path.split('.') as [string, string];
    const existing = doc[section];
    if (existing === undefined) doc[section] = { [key]: value };
    else if (
      typeof existing === 'object' &&
      existing !== null &&
      !Array.isArray(existing) &&
      !(existing instanceof Date)
    )
      (existing as Table)[key] = value;
  };
  const given = new Map<string, string>();
  for (const [path, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    set(path, value);
    given.set(path, 'given on the command line, which overrides the file');
  }
  const server = doc.server as Table | undefined;
  const envToken = env.DISTKV_TOKEN;
  if (
    envToken !== undefined &&
    envToken !== '' &&
    !given.has('server.token') &&
    (server?.token ?? '') === ''
  ) {
    set('server.token', envToken);
    given.set('server.token', 'from DISTKV_TOKEN, as the file sets no server.token');
  }
  return given;
}

/**
 * fromCommandLine marks each problem of a setting the command line (or the environment) gave as
 * such: the error names the file, and the bad value is not in it.
 */
function fromCommandLine(err: ConfigError, source: string, given: ReadonlyMap<string, string>): ConfigError {
  return new ConfigError(
    source,
    err.problems.map((problem) => {
      const path = [...given.keys()].find((p) => problem.startsWith(`${p}:`));
      return path === undefined ? problem : `${problem} (${given.get(path) ?? ''})`;
    }),
  );
}

/** parseConfigText parses and validates TOML text; `source` names it in error messages. */
export function parseConfigText(
  text: string,
  source: string,
  overrides: ConfigOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): Config {
  let doc: Table;
  try {
    doc = parse(text);
  } catch (err) {
    if (err instanceof TomlError) {
      throw new ConfigError(source, [
        `TOML syntax error at line ${err.line}, column ${err.column}: ${err.message.split('\n')[0] ?? ''}`,
      ]);
    }
    throw err;
  }
  const given = applyOverrides(doc, overrides, env);
  try {
    return validateConfig(doc, source);
  } catch (err) {
    if (err instanceof ConfigError && given.size > 0) throw fromCommandLine(err, source, given);
    throw err;
  }
}

/** loadConfig reads, parses and validates a config file. */
export function loadConfig(
  path: string,
  overrides: ConfigOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file: ${reasonOf(err)}`]);
  }
  return parseConfigText(text, path, overrides, env);
}
