/**
 * Two nodes' sharding.toml files that dispute slots (docs/operations.md, "When the nodes disagree
 * about the config"): `three` has three shards led by A, B, A; `two` has two led by A, B. Slots
 * 0-5460 are A's in both, 8192-10922 B's in both; 5461-8191 and 10923-16383 change leader.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeNodeAddress } from './resp.js';
import { writeConfig } from './server-process.js';

/** DisputingFiles are a temp dir, the two nodes' addresses and the paths of both files. */
export interface DisputingFiles {
  dir: string;
  a: string;
  b: string;
  three: string;
  two: string;
}

/** disputingFiles writes both files in a new temp dir named after `name` (the caller removes it). */
export async function disputingFiles(name: string): Promise<DisputingFiles> {
  const dir = mkdtempSync(join(tmpdir(), `distkv-${name}-`));
  const [a, b] = [await freeNodeAddress(), await freeNodeAddress()];
  mkdirSync(join(dir, 'three'));
  mkdirSync(join(dir, 'two'));
  const three = writeConfig(join(dir, 'three'), [
    { address: a, slots: '0-5460' },
    { address: b, slots: '5461-10922' },
    { address: a, slots: '10923-16383' },
  ]);
  const two = writeConfig(join(dir, 'two'), [
    { address: a, slots: '0-8191' },
    { address: b, slots: '8192-16383' },
  ]);
  return { dir, a, b, three, two };
}
