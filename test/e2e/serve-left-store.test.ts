/**
 * A replica removed from its shard in sharding.toml leaves its store in the data directory: the
 * next start does not open it, and says so, naming the directory (src/server/left-stores.ts). It
 * held its disk silently before.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { serveUntil } from '../helpers/serve-run.js';
import { writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('distkv serve with a replica removed from the config', () => {
  it("names the removed replica's store at start, and does not open it", async () => {
    const dir = tempDir(after);
    const [a, b] = await freePorts(2);
    const data = join(dir, 'data');
    const args = (config: string) => ['--config', config, '--data-dir', data, '--workers', '1'];
    const both = writeConfig(dir, [{ address: `127.0.0.1:${a!}`, replicas: [`127.0.0.1:${b!}`] }]);
    const first = await serveUntil(args(both), /"msg":"serving on /, 'SIGTERM');
    assert.equal(first.code, 0, first.output);
    assert.doesNotMatch(first.output, /holds a store this config does not give/);
    const alone = writeConfig(dir, [{ address: `127.0.0.1:${a!}`, replicas: [] }]);
    const second = await serveUntil(args(alone), /"msg":"serving on /, 'SIGTERM');
    assert.equal(second.code, 0, second.output);
    const removed = join(data, `127.0.0.1_${b!}`, 'shard-0');
    const line = second.output.split('\n').find((l) => l.includes('holds a store this config does not give'));
    assert.ok(line !== undefined, second.output);
    assert.equal((JSON.parse(line) as { dir: string }).dir, removed);
  });
});
