import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Audit } from '../src/daemon/audit.js';
import { Daemon, type CommandOutcome } from '../src/daemon/daemon.js';
import { DoorActivity, takeSnapshot } from '../src/metrics/snapshot.js';
import { renderPrometheus } from '../src/metrics/prometheus.js';
import { makeDoor } from './helpers/knock-fixtures.js';
import { configWith, fakeWorld, settle } from './helpers/fake-daemon-ports.js';

const ok: CommandOutcome = { exitCode: 0, signal: null, timedOut: false, stderr: '' };
const fail: CommandOutcome = { exitCode: 4, signal: null, timedOut: false, stderr: 'xtables lock' };

test('the figures follow a real Daemon: open, a failing stop (the door may still be open), then the retry that closes it', async () => {
  const world = fakeWorld();
  const activity = new DoorActivity(world.time.now);
  const logger = pino({ level: 'silent' });
  world.ports.audit = new Audit(logger, [], false, (at, record) => activity.observe(at, record));
  const outcomes: CommandOutcome[] = [ok, fail, ok];
  world.ports.runCommand = async (command) => {
    world.commands.push(command);
    return outcomes.shift() ?? ok;
  };
  const config = configWith([makeDoor({ name: 'ssh', cmdTimeoutMs: 1_000 }), makeDoor({ name: 'web', sequence: '7100,7200' })]);
  const daemon = new Daemon(config, world.ports);
  const figures = () => takeSnapshot(daemon, activity, { version: 'v', pid: 1, startedAt: 0, now: world.time.now, source: 'nflog', configuredDoors: ['ssh', 'web'] });
  await daemon.start();
  for (const [port, protocol] of [[7000, 'udp'], [8000, 'tcp'], [9000, 'udp']] as const) {
    world.knock({ source: '10.0.0.2', family: 4, destination: '10.0.0.1', port, protocol, tcpFlags: protocol === 'tcp' ? 2 : 0 });
  }
  await settle();
  let now = figures();
  assert.deepEqual(now.doors.get('ssh'), { opens: 1, closes: 0, open: 1, replaysRefused: 0, commandFailures: { start: 0, stop: 0 }, stopRetrying: false });
  assert.deepEqual([...now.events], [['nflog', 3]]);
  assert.equal(now.lastEventAt, world.time.now);

  await world.time.advance(1_000);
  now = figures();
  // The stop command failed: not closed, and flagged.
  assert.deepEqual(now.doors.get('ssh'), { opens: 1, closes: 0, open: 1, replaysRefused: 0, commandFailures: { start: 0, stop: 1 }, stopRetrying: true });
  assert.match(renderPrometheus(now), /^nfknock_stop_retrying\{door="ssh"\} 1$/m);

  await world.time.advance(5_000);
  now = figures();
  // Retried and closed: one close, however many attempts it took.
  assert.deepEqual(now.doors.get('ssh'), { opens: 1, closes: 1, open: 0, replaysRefused: 0, commandFailures: { start: 0, stop: 1 }, stopRetrying: false });
  assert.deepEqual(now.doors.get('web'), { opens: 0, closes: 0, open: 0, replaysRefused: 0, commandFailures: { start: 0, stop: 0 }, stopRetrying: false });
  await daemon.stop();
});
