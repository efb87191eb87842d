/**
 * loadConfig: reads a TOML file (the seed's sharding.toml format plus distkv's optional tables),
 * applies command-line overrides and DISTKV_TOKEN, and validates the result.
 */
import { readFileSync } from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import { ConfigError } from '../errors.js';
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

function applyOverrides(doc: Table, overrides: ConfigOverrides, env: NodeJS.ProcessEnv): void {
  const set = (path: string, value: unknown): void => {
    const [section, key] = path.split('.') as [string, string];
    const existing = doc[section];
    const table: Table = typeof existing === 'object' && existing !== null ? (existing as Table) : {};
    table[key] = value;
    doc[section] = table;
  };
  for (const [path, value] of Object.entries(overrides)) {
    if (value !== undefined) set(path, value);
  }
  const server = doc.server as Table | undefined;
  const envToken = env.DISTKV_TOKEN;
  if (envToken !== undefined && envToken !== '' && (server?.token ?? '') === '')
    set('server.token', envToken);
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
  applyOverrides(doc, overrides, env);
  return validateConfig(doc, source);
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
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(path, [`cannot read the file (${code})`]);
  }
  return parseConfigText(text, path, overrides, env);
}
