/**
 * A config file's misspelt setting or section is answered with the one it most likely meant, after
 * the list of known ones (src/config/validate-config.ts, src/util/did-you-mean.ts): `tokn = "s"`
 * under `[server]` listed thirteen settings and left the reader to find `token` among them. A
 * setting of another table is named with its table: `durability` written after a `[[shards]]`
 * block (that shard's key in TOML) was refused listing only the shard's settings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load-config.js';
import { ConfigError } from '../../src/errors.js';

const SHARD = '[[shards]]\nname = "s"\nidx = 0\naddress = "127.0.0.1:8080"\n';

function problemsOf(text: string): readonly string[] {
  try {
    parseConfigText(text, 'typo.toml', {}, {});
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('the config was accepted');
}

describe('config: did you mean', () => {
  it('names the setting a typo meant, after the known ones', () => {
    const [tokn, durabilty] = problemsOf(`${SHARD}[server]\ntokn = "s"\n[storage]\ndurabilty = "fsync"\n`);
    assert.match(
      tokn ?? '',
      /^server\.tokn: unknown setting \(expected one of .*, token, .*; did you mean token\?\)$/,
    );
    assert.match(
      durabilty ?? '',
      /^storage\.durabilty: unknown setting \(expected one of .*; did you mean durability\?\)$/,
    );
  });

  it('names the section a typo meant', () => {
    const problems = problemsOf(`${SHARD}[sever]\ntoken = "s"\n`);
    assert.ok(
      problems.some((p) => /^sever: unknown setting \(.*; did you mean server\?\)$/.test(p)),
      JSON.stringify(problems),
    );
  });

  it("names the table a setting of another one belongs to, and TOML's rule after a [[shards]] header", () => {
    const [durability, engine] = problemsOf(`${SHARD}durability = "none"\n[server]\nengine = "lsm"\n`);
    assert.match(
      durability ?? '',
      /^shards\[0\]\.durability: unknown setting \(expected one of name, idx, address, replicas, slots\); durability is a \[storage\] setting: put it under \[storage\] \(in TOML the keys after a \[\[shards\]\] header belong to that shard until the next header\)$/,
    );
    assert.match(
      engine ?? '',
      /^server\.engine: unknown setting \(.*\); engine is a \[storage\] setting: put it under \[storage\]$/,
    );
  });

  it('refuses server.max_value_bytes = 0, which would refuse every value but the empty one', () => {
    const [p] = problemsOf(`${SHARD}[server]\nmax_value_bytes = 0\n`);
    assert.match(p ?? '', /^server\.max_value_bytes: /);
  });

  it('refuses a data_dir starting with ~, which a config file does not expand', () => {
    const [p] = problemsOf(`${SHARD}[server]\ndata_dir = "~/distkv"\n`);
    assert.match(
      p ?? '',
      /^server\.data_dir: "~\/distkv": a config file does not expand ~ .*write the whole path$/,
    );
  });

  it('suggests nothing for a setting far from every known one', () => {
    const [p] = problemsOf(`${SHARD}[server]\ncolour = "red"\n`);
    assert.match(p ?? '', /^server\.colour: unknown setting \(expected one of [a-z_, ]+\)$/);
  });
});
