/**
 * ScriptedSource: a replication source (src/replication/source.ts) whose pulls answer what the
 * test says, and which has no snapshot to give: a leader that forks or is gone, a ring's
 * catch-up log. It counts the pulls and the snapshots asked for.
 */
import type { PullResult, ReplicationSource, SnapshotStream } from '../../src/replication/source.js';

/** ScriptedSource answers every pull with `answer` (or `answer(after)`); every snapshot is refused. */
export class ScriptedSource implements ReplicationSource {
  readonly describe: string;
  pulls = 0;
  snapshots = 0;
  private readonly answer: (after: number) => PullResult;

  constructor(answer: PullResult | ((after: number) => PullResult), describe = 'leader log') {
    this.answer = typeof answer === 'function' ? answer : () => answer;
    this.describe = describe;
  }

  pull(after: number): Promise<PullResult> {
    this.pulls++;
    return Promise.resolve(this.answer(after));
  }

  snapshot(): Promise<SnapshotStream> {
    this.snapshots++;
    return Promise.reject(new Error('no snapshot is served here'));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
