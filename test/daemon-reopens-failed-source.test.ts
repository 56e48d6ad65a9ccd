import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SourceSink } from '../src/sources/types.js';
import { ErrorCodes, NfknockError } from '../src/core/errors.js';
import { makeDoor } from './helpers/knock-fixtures.js';
import { configWith, fakeWorld } from './helpers/fake-daemon-ports.js';

test('a source that fails is reopened with backoff, and knocks reach the new one', async () => {
  const world = fakeWorld();
  const sinks: SourceSink[] = [];
  let starts = 0;
  let failNextStarts = 0;
  world.ports.openSource = (_config, sink) => ({
    start: async () => {
      starts++;
      if (failNextStarts > 0) {
        failNextStarts--;
        throw new NfknockError(ErrorCodes.SOURCE_UNAVAILABLE, 'busy');
      }
      sinks.push(sink);
    },
    close: async () => {},
  });
  const daemon = world.daemon(configWith([makeDoor({ name: 'ssh', stopCommand: undefined, startCommand: 'open %IP%' })]));
  await daemon.start();
  assert.equal(starts, 1);
  failNextStarts = 1;
  sinks[0]?.failed?.(new NfknockError(ErrorCodes.SOURCE_FAILED, 'NFLOG socket error: EBADF'));
  sinks[0]?.failed?.(new NfknockError(ErrorCodes.SOURCE_FAILED, 'NFLOG socket error: EBADF'));
  await world.time.advance(999);
  assert.equal(starts, 1, 'waits a second, and two failures schedule one restart');
  await world.time.advance(1);
  assert.equal(starts, 2, 'first reopen (fails)');
  await world.time.advance(1999);
  assert.equal(starts, 2);
  await world.time.advance(1);
  assert.equal(starts, 3, 'second reopen after 2 s backoff');
  assert.equal(daemon.counters.sourceRestarts, 1);
  for (const [port, protocol] of [[7000, 'udp'], [8000, 'tcp'], [9000, 'udp']] as const) {
    sinks.at(-1)?.event({ source: '10.0.0.2', family: 4, destination: '10.0.0.1', port, protocol, tcpFlags: 2, at: world.time.now });
  }
  await world.idle();
  assert.deepEqual(world.commands, ['open 10.0.0.2']);
  await daemon.stop();
});

test('no reopen after stop', async () => {
  const world = fakeWorld();
  let starts = 0;
  let sink: SourceSink | undefined;
  world.ports.openSource = (_config, s) => ({
    start: async () => {
      starts++;
      sink = s;
    },
    close: async () => {},
  });
  const daemon = world.daemon(configWith([makeDoor()]));
  await daemon.start();
  sink?.failed?.(new NfknockError(ErrorCodes.SOURCE_FAILED, 'gone'));
  await daemon.stop();
  await world.time.advance(60_000);
  assert.equal(starts, 1);
});
