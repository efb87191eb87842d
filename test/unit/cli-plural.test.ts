/**
 * Counts in the CLI's lines agree with their number: "1 key", "loaded 1 line into 1 store",
 * "1 error". Progress and summary lines wrote a fixed plural after the count ("loaded 1 lines",
 * "wrote FILE: 1 keys from 1 shards", "1 errors"); they now share src/util/plural.ts.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { formatProgress } from '../../src/cli/progress-line.js';
import { othersText } from '../../src/client/topology.js';
import { plural } from '../../src/util/plural.js';
import { runCli, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('plural', () => {
  it('writes the noun alone for 1 and its plural otherwise', () => {
    assert.equal(plural(1, 'key'), '1 key');
    assert.equal(plural(0, 'key'), '0 keys');
    assert.equal(plural(2, 'line'), '2 lines');
    assert.equal(plural(1, 'entry', 'entries'), '1 entry');
    assert.equal(plural(3, 'entry', 'entries'), '3 entries');
  });
});

describe('counts in CLI lines', () => {
  it('bench progress says "1 error"', () => {
    const line = formatProgress({ phase: 'run', elapsedS: 1, totalS: 2, rate: 10, done: 1, errors: 1 });
    assert.match(line, /1 done {2}1 error$/);
  });

  it('the client says "1 more node of its map"', () => {
    assert.equal(othersText(1), ', and 1 more node of its map');
    assert.equal(othersText(2), ', and 2 more nodes of its map');
  });

  it('load of one line says "loaded 1 line into 1 store"', async () => {
    const dir = tempDir(after);
    const config = writeConfig(dir, [{ address: '127.0.0.1:1' }]);
    const input = join(dir, 'one.jsonl');
    writeFileSync(input, `${JSON.stringify({ key: 'k', value: 'v' })}\n`);
    const r = await runCli(['load', input, '--config', config, '--data-dir', join(dir, 'data')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^loaded 1 line into 1 store in \d+\.\d s \(\d+ lines\/s\); durable\n$/);
  });
});
