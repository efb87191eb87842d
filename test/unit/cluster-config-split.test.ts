/**
 * `distkv cluster` names nodes that route with different config files (src/cli/cluster-config-split.ts):
 * before, a rolling config change showed only as replicas "not following" on an older map.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { differentConfigProblem } from '../../src/cli/cluster-config-split.js';

describe('differentConfigProblem', () => {
  it('is undefined when every node answers with one config', () => {
    assert.equal(
      differentConfigProblem([
        { node: 'a:1', hosted_nodes: ['a:1', 'a:2'], version: 'v1' },
        { node: 'b:1', hosted_nodes: [], version: 'v1' },
      ]),
      undefined,
    );
  });

  it('names each config with its nodes, most nodes first, a process naming every node it hosts', () => {
    const p = differentConfigProblem([
      { node: 'c:1', hosted_nodes: [], version: 'v2' },
      { node: 'a:1', hosted_nodes: ['a:2', 'a:1'], version: 'v1' },
    ]);
    assert.match(
      p ?? '',
      /^nodes route with different sharding\.toml files: a:1, a:2 with config v1; c:1 with config v2\. /,
    );
    assert.match(p ?? '', /give every node the same file/);
  });
});
