/**
 * Ctrl-C just as `distkv failover` ends: the command has posted the new map and printed
 * "shard-0: leader A → B in epoch ...", and a SIGINT that arrives while it flushes that line and
 * exits kills it with Node's default (signal SIGINT, the shell's 130). The failover completed,
 * yet the exit says it was interrupted, with no word of it on stderr: a script (or an operator
 * reading $?) runs it again and moves the leader back. failover --help: "Exit 0 when the new
 * leader took over"; an interrupt that comes after the map was posted is meant to say "the
 * failover completed" (src/cli/failover-command.ts), but its handlers are removed before the
 * output is written. Seen by hand 6 times in 6 with the signal sent as the line arrived.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { clusterOf } from '../helpers/failover-model.js';
import { runCli, ServerProcess } from '../helpers/server-process.js';
import { signalAfterEnv } from '../helpers/signal-after.js';
import { Trio } from '../helpers/trio.js';

describe('a failover command interrupted as it prints its result', { timeout: 180000 }, () => {
  let trio: Trio;

  before(async () => {
    trio = await Trio.start('failover-cli-interrupt-after-done');
  });

  after(async () => {
    await trio.stop();
  });

  it('exits 0 (or says the failover completed) when the leader did move', async () => {
    const { A, B } = trio;
    await trio.client.put('k', 'v');
    const cli = ServerProcess.spawn(['failover', '--shard', 'shard-0', '--to', B, '--url', A], {
      DISTKV_TOKEN: '',
      DISTKV_URL: '',
    });
    // The operator's Ctrl-C as the result appears on the terminal.
    cli.child.stdout?.once('data', () => cli.child.kill('SIGINT'));
    const code = await cli.waitExit();
    assert.match(cli.stdout, /^shard-0: leader .* → .* in epoch \d+/);
    const doc = await clusterOf(A);
    assert.equal(doc.shards[0]!.leader.address, B, 'the failover completed');
    const signal = cli.child.signalCode;
    assert.ok(
      code === 0 || /the failover completed/.test(cli.stderr),
      `a completed failover ended with ${String(code ?? signal)}, stderr: ${JSON.stringify(cli.stderr)}`,
    );
  });

  it('exits 0 when the interrupt comes as the result line is written (every time, not by chance)', async () => {
    const { A, B } = trio;
    const leader = (await clusterOf(A)).shards[0]!.leader.address;
    const to = leader === B ? A : B;
    const r = await runCli(
      ['failover', '--shard', 'shard-0', '--to', to, '--url', leader],
      signalAfterEnv('^shard-0: leader '),
    );
    assert.match(r.stdout, /^shard-0: leader .* → .* in epoch \d+/);
    assert.equal((await clusterOf(A)).shards[0]!.leader.address, to, 'the failover completed');
    assert.equal(
      r.code,
      0,
      `a completed failover ended with ${String(r.code)}, stderr: ${JSON.stringify(r.stderr)}`,
    );
  });
});
