/** The client watch's topology source over a fixed shard map, for tests of src/client/watch.ts. */
import type { ShardMap } from '../../src/routing/shard-map.js';

/** fixedSource answers `map` as the topology and never reloads or redirects. */
export function fixedSource(map: ShardMap): {
  topology: () => Promise<ShardMap>;
  reload: () => Promise<void>;
  scheme: string;
  ca: undefined;
  closed: () => boolean;
  onClose: () => () => void;
  checkRedirect: () => Promise<void>;
} {
  return {
    topology: () => Promise.resolve(map),
    reload: () => Promise.resolve(),
    scheme: 'http',
    ca: undefined,
    closed: () => false,
    onClose: () => () => undefined,
    checkRedirect: () => Promise.resolve(),
  };
}
