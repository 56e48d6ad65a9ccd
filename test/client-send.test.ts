import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { isNfknockError } from '../src/core/errors.js';
import { resolveKnockHost, sendKnocks } from '../src/client/knock.js';

test('address literals are used as written (canonical), and -4/-6 refuse a literal of the other family', async () => {
  assert.deepEqual(await resolveKnockHost('10.0.0.1'), { address: '10.0.0.1', family: 4 });
  assert.deepEqual(await resolveKnockHost('0:0::1', 6), { address: '::1', family: 6 });
  await assert.rejects(resolveKnockHost('10.0.0.1', 6), (e: unknown) => isNfknockError(e) && e.code === 'NFK_USAGE');
  await assert.rejects(resolveKnockHost('::1', 4), (e: unknown) => isNfknockError(e) && e.code === 'NFK_USAGE');
  await assert.rejects(resolveKnockHost(''), (e: unknown) => isNfknockError(e) && e.code === 'NFK_USAGE');
});

test('names resolve through getaddrinfo with the requested family (localhost, from /etc/hosts)', async () => {
  assert.deepEqual(await resolveKnockHost('localhost', 4), { address: '127.0.0.1', family: 4 });
});

test('a UDP knock is one datagram holding a single NUL byte, like knock.c; knocks go in order, spaced by the delay', async () => {
  const server = createSocket('udp4');
  server.bind(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const received: Buffer[] = [];
  server.on('message', (message) => received.push(message));
  const lines: string[] = [];
  const started = Date.now();
  try {
    await sendKnocks('127.0.0.1', [
      { port, protocol: 'udp' },
      { port: 1, protocol: 'tcp' },
      { port, protocol: 'udp' },
    ], { delayMs: 40, verbose: (line) => lines.push(line) });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 75, `two 40 ms pauses, took ${elapsed} ms`);
    for (let i = 0; i < 20 && received.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(received, [Buffer.of(0), Buffer.of(0)]);
    // A refused TCP knock (closed port 1) still counts as sent: the SYN reached the host.
    assert.deepEqual(lines, [`hitting udp 127.0.0.1:${port}`, 'hitting tcp 127.0.0.1:1', `hitting udp 127.0.0.1:${port}`]);
  } finally {
    server.close();
  }
});

test('nothing to send or a bad delay is a usage error', async () => {
  await assert.rejects(sendKnocks('127.0.0.1', [], { delayMs: 0 }), (e: unknown) => isNfknockError(e) && e.code === 'NFK_USAGE');
  await assert.rejects(sendKnocks('127.0.0.1', [{ port: 1, protocol: 'udp' }], { delayMs: -1 }), (e: unknown) => isNfknockError(e) && e.code === 'NFK_USAGE');
});
