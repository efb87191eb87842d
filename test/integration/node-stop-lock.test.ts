/**
 * A node's stop releases its data directory only once nothing of it can still write there: a peer
 * check answered during the drain adopts a live map and saves it into the data directory, so it must
 * end before the lock is released (a process started on the directory then would have it
 * overwritten).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load-config.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { LOCK_FILE } from '../../src/server/data-dir-lock.js';
import { LIVE_MAP_FILE } from '../../src/server/live-map-file.js';
import { DistkvNode } from '../../src/server/node.js';
import { createLogger } from '../../src/util/logger.js';
import { freePorts } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * HOLD_LIMIT_MS is how long the peer holds the check while the lock stays. A stop that releases the
 * lock without waiting for the check does so 10-50 ms after the check arrives; the answer must reach
 * the node within the check's timeout (PEER_TIMEOUT_MS, 1 s) of its sending, and this process may
 * see the check hundreds of ms late on a loaded machine: 400 ms leaves it 600 ms.
 */
const HOLD_LIMIT_MS = 400;

describe('node stop and the data directory lock', () => {
  it('ends its peer checks (which save live maps) before it releases the data directory lock', async () => {
    const dir = tempDir(after);
    const [port, peerPort] = (await freePorts(2)) as [number, number];
    const [self, peer] = [`127.0.0.1:${port}`, `127.0.0.1:${peerPort}`];
    const config = parseConfigText(
      `[[shards]]\nname = "shard-0"\nidx = 0\naddress = "${self}"\nreplicas = ["${peer}"]\n` +
        `[server]\ndata_dir = "${dir}"\nresp_port_offset = 0\n`,
      'node-stop-lock',
    );
    const hash = new ShardMap(config.shards).hash;
    const newer = {
      version: 2,
      shards: [{ idx: 0, name: 'shard-0', leader: self, replicas: [peer], epoch: 0, history: [] }],
    };
    // The peer answers plainly until armed; armed, it holds a check until the node's lock is gone
    // (or HOLD_LIMIT_MS, under the check's timeout) and answers with a newer live map.
    let armed = false;
    let held: () => void = () => undefined;
    const heldCheck = new Promise<void>((resolve) => (held = resolve));
    let lockHeldAtAnswer: boolean | undefined;
    const fake = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      if (!armed) {
        res.end(JSON.stringify({ version: hash }));
        return;
      }
      armed = false;
      held();
      const since = Date.now();
      const poll = setInterval(() => {
        const locked = existsSync(join(dir, LOCK_FILE));
        if (locked && Date.now() - since < HOLD_LIMIT_MS) return;
        clearInterval(poll);
        lockHeldAtAnswer = locked;
        res.end(JSON.stringify({ version: hash, map: newer }));
      }, 5);
    });
    await new Promise<void>((resolve) => fake.listen(peerPort, '127.0.0.1', resolve));
    after(() => fake.close());
    const node = await DistkvNode.start({ config, nodes: [self], log: createLogger('error'), inline: true });
    armed = true;
    await heldCheck; // the next periodic check is now in flight
    await node.stop();
    assert.equal(lockHeldAtAnswer, true, 'the check in flight ended before the lock was released');
    assert.equal(existsSync(join(dir, LOCK_FILE)), false, 'stop released the lock');
    const saved = JSON.parse(readFileSync(join(dir, LIVE_MAP_FILE), 'utf8')) as { version: number };
    assert.equal(saved.version, 2, 'the map it carried was saved while the lock was held');
  });
});
