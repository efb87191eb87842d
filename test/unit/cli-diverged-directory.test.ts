/**
 * `distkv diverged DIR` (a node's directory, where divergence files lie beside its stores'
 * directories) said "copy it to a file and name that", advice for a pipe or a device that makes
 * no sense for a directory. It now lists the divergence files the directory holds, to name
 * instead, or says it holds none.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BIN } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir(after);

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'diverged', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('distkv diverged given a directory', () => {
  it('names the divergence files in it, not "copy it to a file"', () => {
    const node = join(dir, 'node');
    mkdirSync(join(node, 'shard-0'), { recursive: true });
    writeFileSync(join(node, 'shard-0.diverged-2-5-9.log'), '');
    writeFileSync(join(node, 'shard-1.diverged-3-1-4.keys-2.log'), '');
    writeFileSync(join(node, 'live-map.json'), '{}');
    const r = run(node);
    assert.equal(r.status, 2, r.stderr);
    assert.doesNotMatch(r.stderr, /copy it to a file/);
    assert.equal(
      r.stderr.split('\n')[0],
      `distkv diverged: cannot read ${node}: it is a directory: name the divergence files in it (2 files: ${join(node, 'shard-0.diverged-2-5-9.log')} ${join(node, 'shard-1.diverged-3-1-4.keys-2.log')})`,
    );
  });

  it('says a directory without divergence files holds none', () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const r = run(empty);
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^distkv diverged: cannot read ${empty}: it is a directory, and holds no divergence file \\(`,
      ),
    );
    assert.doesNotMatch(r.stderr, /copy it to a file/);
  });
});
