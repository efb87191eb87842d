/**
 * A shard worker that opens its stores only once the test lets it: it waits until the file named
 * by DISTKV_TEST_START_GATE exists, then runs the real shard worker, or exits with an error when
 * the file says `fail` (a start whose stores do not open). For tests of what a node answers while
 * it starts (test/integration/resp-start.test.ts).
 */
import { existsSync, readFileSync } from 'node:fs';

const gate = process.env.DISTKV_TEST_START_GATE;
if (gate === undefined) throw new Error('DISTKV_TEST_START_GATE names the file that lets the stores open');
while (!existsSync(gate)) await new Promise((r) => setTimeout(r, 10));
if (readFileSync(gate, 'utf8').trim() === 'fail') throw new Error('the test failed this start');
await import('../../workers/shard-worker.js');
