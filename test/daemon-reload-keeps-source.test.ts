import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Config } from '../src/core/types.js';
import type { SourceSink } from '../src/sources/types.js';
import { ErrorCodes, NfknockError } from '../src/core/errors.js';
import { makeDoor } from './helpers/knock-fixtures.js';
import { configWith, fakeWorld } from './helpers/fake-daemon-ports.js';

const door = makeDoor({ name: 'ssh', cmdTimeoutMs: 10_000 });

function withGroup(config: Config, group: number): Config {
  return { ...config, options: { ...config.options, nflogGroup: group } };
}

/** A world whose sources record their group and whose `failGroups` cannot be bound. */
function worldWithSources(failGroups: number[]) {
  const world = fakeWorld();
  const sinks = new Map<number, SourceSink>();
  const log: string[] = [];
  world.ports.openSource = (config, sink) => {
    const group = config.options.nflogGroup;
    return {
      start: async () => {
        if (failGroups.includes(group)) {
          log.push(`start ${group} failed`);
          throw new NfknockError(ErrorCodes.SOURCE_UNAVAILABLE, `NFLOG group ${group} is already bound`);
        }
        sinks.set(group, sink);
        log.push(`start ${group}`);
      },
      close: async () => {
        sinks.delete(group);
        log.push(`close ${group}`);
      },
    };
  };
  const knockOn = (group: number) => {
    const sink = sinks.get(group);
    for (const [port, protocol] of [[7000, 'udp'], [8000, 'tcp'], [9000, 'udp']] as const) {
      sink?.event({ source: '10.0.0.2', family: 4, destination: '10.0.0.1', port, protocol, tcpFlags: protocol === 'tcp' ? 2 : 0, at: world.time.now });
    }
  };
  return { world, log, sinks, knockOn };
}

test('a reload whose new source cannot start is refused and the old source keeps serving', async () => {
  const { world, log, sinks, knockOn } = worldWithSources([6]);
  const config = configWith([door]);
  const daemon = world.daemon(config);
  await daemon.start();
  await assert.rejects(daemon.reload(withGroup(config, 6)), { code: ErrorCodes.SOURCE_UNAVAILABLE });
  assert.deepEqual(log, ['start 5', 'close 5', 'start 6 failed', 'close 6', 'start 5']);
  assert.deepEqual([...sinks.keys()], [5], 'reading group 5 again');
  knockOn(5);
  await world.idle();
  assert.equal(world.commands.length, 1, 'a knock still opens the door');
  assert.ok(!world.lines.some((line) => line.startsWith('re-reading config file')), 'the refused reload is not logged as done');
  // A later good reload still works: the daemon kept the old config as its current one.
  await daemon.reload(withGroup(config, 7));
  assert.deepEqual(log.slice(-2), ['close 5', 'start 7']);
});

test('a reload that changes the source moves to the new one', async () => {
  const { world, log, knockOn } = worldWithSources([]);
  const config = configWith([door]);
  const daemon = world.daemon(config);
  await daemon.start();
  await daemon.reload(withGroup(config, 6));
  assert.deepEqual(log, ['start 5', 'close 5', 'start 6']);
  knockOn(5);
  await world.idle();
  assert.equal(world.commands.length, 0, 'the old group is no longer read');
  knockOn(6);
  await world.idle();
  assert.equal(world.commands.length, 1);
});
