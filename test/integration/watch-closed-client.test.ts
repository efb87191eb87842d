/**
 * An SSE watcher whose client closed its socket leaves promptly (docs/watch.md, "Slow watchers"):
 * TCP shows a closed client and one that only half-closed alike (a FIN), until a write to it is
 * answered by a reset and the write after that fails. Once the client sent FIN the node sends the
 * keep-alive every second rather than every 15 s, so on a quiet prefix the stream no longer stays
 * counted open (distkv_watchers_open, the hub's members, its buffers) for up to 30 s. A client that
 * only half-closed still receives its events.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type InlineNode, startInlineNode } from '../helpers/inline-node.js';

describe('watch: a client that closed', () => {
  let inline: InlineNode | undefined;
  let port = 0;

  before(async () => {
    inline = await startInlineNode(2, 'watch-closed-client');
    port = inline.port;
  });
  after(async () => {
    await inline?.stop();
  });

  /** open starts an SSE watch of `prefix` on a raw socket and waits (bounded) for its hello. */
  async function open(prefix: string): Promise<{ s: Socket; text: () => string }> {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.write(`GET /watch?prefix=${prefix} HTTP/1.1\r\nHost: t\r\n\r\n`);
    await until(() => text.includes('event: hello'), 'no hello');
    return { s, text: () => text };
  }

  async function until(done: () => boolean | Promise<boolean>, what: string, ms = 20000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await done())) {
      if (Date.now() > deadline) assert.fail(what);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function watchersOpen(): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('distkv_watchers_open '));
    return line === undefined ? 0 : Number(line.slice('distkv_watchers_open '.length));
  }

  it('ends the stream of a client that closed its socket within seconds on a quiet prefix', async () => {
    const { s } = await open('quiet-closed/');
    assert.equal(await watchersOpen(), 1);
    // Everything sent was read: the close is a FIN, as a browser tab or a killed curl sends.
    s.destroy();
    // Before, the stream stayed open until the second keep-alive after the close: up to 30 s.
    await until(async () => (await watchersOpen()) === 0, 'the closed client is still counted open', 8000);
  });

  it('still sends its events to a client that only half-closed', async () => {
    const base = await watchersOpen();
    const { s, text } = await open('half-closed/');
    s.end();
    // Past a few probes: the stream is still open and the client still gets what changes.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(await watchersOpen(), base + 1, 'the half-closed client was dropped');
    const r = await fetch(`http://127.0.0.1:${port}/kv/half-closed%2Fk`, { method: 'PUT', body: 'v1' });
    assert.equal(r.status, 204);
    await until(() => text().includes('event: put'), 'the half-closed client got no put');
    assert.ok(text().includes(': keep-alive'), 'no keep-alive probe reached the half-closed client');
    s.destroy();
    await until(async () => (await watchersOpen()) === base, 'the reset client is still counted open');
  });
});
