import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { PassThrough } from 'node:stream';
import { connectAndJoin, waitForPort } from '../src/client/connect.js';
import { isNfknockError } from '../src/core/errors.js';

const LOOPBACK = { address: '127.0.0.1', family: 4 as const };

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

test('connect joins input and output to the service until it closes the connection', async (t) => {
  const received: string[] = [];
  const server = createServer((socket) => {
    socket.on('data', (data) => received.push(data.toString()));
    socket.on('end', () => socket.end('bye\n'));
    socket.write('hello\n');
  });
  const port = await listen(server);
  t.after(() => server.close());
  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (data: Buffer) => (printed += data.toString()));
  input.end('ping\n');
  await connectAndJoin(LOOPBACK, port, 2000, input, output);
  assert.equal(printed, 'hello\nbye\n');
  assert.deepEqual(received, ['ping\n']);
});

test('a port that starts accepting during the wait is joined; one that never does fails with NFK_CONNECT_TIMEOUT', async (t) => {
  const probe = createServer();
  const port = await listen(probe);
  await new Promise((resolve) => probe.close(resolve));
  const late = createServer((socket) => socket.on('error', () => {}).end('late\n'));
  const timer = setTimeout(() => void listen(late, port), 500);
  t.after(() => {
    clearTimeout(timer);
    late.close();
  });
  const socket = await waitForPort(LOOPBACK, port, 5000);
  socket.destroy();

  const started = Date.now();
  await assert.rejects(waitForPort(LOOPBACK, 1, 700), (e: unknown) => {
    assert.ok(isNfknockError(e) && e.code === 'NFK_CONNECT_TIMEOUT');
    assert.match(e.message, /127\.0\.0\.1:1 did not accept a connection within 0\.7 s of the knock \(last attempt: refused\)/);
    return true;
  });
  assert.ok(Date.now() - started < 3000, 'the wait is bounded');
});
