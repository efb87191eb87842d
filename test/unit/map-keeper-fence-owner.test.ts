/**
 * A leader's write hold for a planned failover belongs to the failover that took it
 * (MapKeeper.fence's `by`, src/server/map-keeper.ts; docs/failover.md, "Planned failover"): while
 * it holds the shard, another failover's hold or release is refused (MAP_CHANGED) and changes
 * nothing; its own release, an operator's release without a name, the hold running out or a map
 * that moves the shard end it. Before, a second hold was taken as the first, so two failovers at
 * once each promoted their own target (test/e2e/failover-concurrent.test.ts).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { parseConfigText } from '../../src/config/load-config.js';
import { DistkvError } from '../../src/errors.js';
import { MapKeeper } from '../../src/server/map-keeper.js';
import { tempDir } from '../helpers/temp-dir.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.2:7001';

function keeper(): MapKeeper {
  const config = parseConfigText(
    `[server]\ndata_dir = "${tempDir(after)}"\n[[shards]]\nname = "shard-0"\nidx = 0\naddress = "${A}"\nreplicas = ["${B}"]\n`,
    't.toml',
    {},
    {},
  );
  return new MapKeeper(config, pino({ level: 'silent' }));
}

const refused = (err: unknown): boolean => err instanceof DistkvError && err.code === 'MAP_CHANGED';
const never = (): void => {
  assert.fail('the hold did not run out');
};

describe("a failover's hold of a leader's writes", () => {
  it("refuses another failover's hold and release while it holds, and ends by its own release", () => {
    const k = keeper();
    k.fence(0, true, 60000, never, 'one');
    assert.throws(() => {
      k.fence(0, true, 60000, never, 'two');
    }, refused);
    assert.throws(() => {
      k.fence(0, false, 60000, never, 'two');
    }, refused);
    assert.ok(k.writesFenced(0), 'still held by the first');
    k.fence(0, true, 60000, never, 'one');
    k.fence(0, false, 60000, never, 'one');
    assert.ok(!k.writesFenced(0), 'released by its owner');
    k.fence(0, true, 60000, never, 'two');
    assert.ok(k.writesFenced(0), 'another failover holds it once the first ended');
    k.fence(0, false, 60000, never);
    assert.ok(!k.writesFenced(0), "an operator's release without a name ends any hold");
  });

  it('is free again once the hold runs out', async () => {
    const k = keeper();
    const ran = { out: false };
    k.fence(0, true, 30, () => (ran.out = true), 'one');
    for (let i = 0; i < 500 && !ran.out; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(ran.out, 'the hold ran out');
    k.fence(0, true, 60000, never, 'two');
    assert.ok(k.writesFenced(0));
    k.fence(0, false, 60000, never, 'two');
  });
});
