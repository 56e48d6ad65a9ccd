import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Daemon } from '../src/daemon/daemon.js';
import type { CommandOutcome } from '../src/daemon/daemon.js';
import { makeDoor, steps } from './helpers/knock-fixtures.js';
import { configWith, fakeWorld, settle } from './helpers/fake-daemon-ports.js';

const ok: CommandOutcome = { exitCode: 0, signal: null, timedOut: false, stderr: '' };
const fail: CommandOutcome = { exitCode: 4, signal: null, timedOut: false, stderr: 'Another app is currently holding the xtables lock' };

function knock(world: ReturnType<typeof fakeWorld>, source: string, sequence = ['7000:udp', '8000:tcp', '9000:udp']) {
  for (const step of sequence) {
    const [port, protocol] = step.split(':') as [string, 'tcp' | 'udp'];
    world.knock({ source, family: 4, destination: '10.0.0.1', port: Number(port), protocol, tcpFlags: protocol === 'tcp' ? 2 : 0 });
  }
}

test('a failed state save while closing does not stop later doors from closing', async () => {
  const world = fakeWorld();
  const a = makeDoor({ name: 'a', cmdTimeoutMs: 5_000 });
  const b = makeDoor({ name: 'b', cmdTimeoutMs: 10_000, sequence: '7100,7200' });
  const daemon = world.daemon(configWith([a, b]));
  await daemon.start();
  knock(world, '10.0.0.2');
  knock(world, '10.0.0.3', ['7100:tcp', '7200:tcp']);
  await world.idle();
  world.failSaves = true;
  await world.time.advance(5_000);
  world.failSaves = false;
  await world.time.advance(5_000);
  assert.equal(world.commands.filter((c) => c.startsWith('iptables -D')).length, 2, world.commands.join('\n'));
  assert.equal(daemon.openDoors.length, 0);
});

test('a failing stop command keeps its door and is tried again with backoff until it works', async () => {
  const world = fakeWorld();
  const outcomes: CommandOutcome[] = [ok, fail, fail, ok];
  world.ports.runCommand = async (command) => {
    world.commands.push(command);
    return outcomes.shift() ?? ok;
  };
  const daemon = world.daemon(configWith([makeDoor({ cmdTimeoutMs: 1_000 })]));
  await daemon.start();
  knock(world, '10.0.0.2');
  await world.idle();
  await world.time.advance(1_000);
  assert.equal(world.commands.length, 2);
  assert.equal(world.saved.at(-1)?.length, 1, 'still recorded after the failed stop');
  await world.time.advance(5_000);
  assert.equal(world.commands.length, 3, 'retried after 5 s');
  await world.time.advance(9_999);
  assert.equal(world.commands.length, 3);
  await world.time.advance(1);
  assert.equal(world.commands.length, 4, 'retried after 10 s more');
  assert.equal(daemon.openDoors.length, 0);
  assert.equal(world.saved.at(-1)?.length, 0);
  assert.ok(world.lines.some((line) => /stop command failed \(attempt 1\); the door stays recorded/.test(line)));
});

test('a stop command that contains a tab round-trips through the state file', async () => {
  const world = fakeWorld();
  const daemon = world.daemon(configWith([makeDoor({ stopCommand: 'iptables\t-D INPUT -s %IP% -j ACCEPT' })]));
  await daemon.start();
  knock(world, '10.0.0.2');
  await world.idle();
  assert.equal(world.commands.length, 1, 'opened');
  assert.equal(daemon.openDoors[0]?.stopCommand, 'iptables\t-D INPUT -s 10.0.0.2 -j ACCEPT');
});

test('a door whose pending close would not read back from the state file stays shut', async () => {
  const world = fakeWorld();
  const daemon = world.daemon(configWith([makeDoor({ name: 'x'.repeat(300) })]));
  await daemon.start();
  knock(world, '10.0.0.2');
  await world.idle();
  assert.deepEqual(world.commands, []);
  assert.ok(world.lines.some((line) => line.includes('door stays shut')));
});

test('a one-time line knocked while the door is already open for that source is still burnt', async () => {
  const world = fakeWorld();
  const door = makeDoor({ name: 'smtp', steps: [], oneTimeFile: '/etc/knockd/smtp' });
  world.ports.oneTime.read = async () => [
    { line: 1, steps: steps('2000,3000') },
    { line: 2, steps: steps('4000,5000') },
  ];
  const daemon = world.daemon(configWith([door]));
  await daemon.start();
  knock(world, '10.0.0.2', ['2000:tcp', '3000:tcp']);
  await world.idle();
  knock(world, '10.0.0.2', ['4000:tcp', '5000:tcp']);
  await world.idle();
  assert.deepEqual(world.oneTimeMarked, [
    { door: 'smtp', line: 1 },
    { door: 'smtp', line: 2 },
  ]);
  assert.equal(world.commands.length, 1, 'the second knock only extended the open door');
});

test('a one-time line still being burnt holds up no other door, and its own door opens only once it is burnt', async () => {
  const world = fakeWorld();
  const once = makeDoor({ name: 'once', steps: [], oneTimeFile: '/etc/knockd/once', startCommand: 'once %IP%' });
  const fixed = makeDoor({ name: 'fixed', startCommand: 'fixed %IP%' });
  world.ports.oneTime.read = async () => [{ line: 1, steps: steps('2000,3000') }];
  let release: (() => void) | undefined;
  world.ports.oneTime.markUsed = async (door, line) => {
    await new Promise<void>((resolve) => (release = resolve));
    world.oneTimeMarked.push({ door: door.name, line: line.line });
  };
  const daemon = world.daemon(configWith([once, fixed]));
  await daemon.start();
  knock(world, '10.0.0.2', ['2000:tcp', '3000:tcp']);
  knock(world, '10.0.0.3');
  await settle();
  assert.ok(release, 'the burn started');
  assert.deepEqual(world.commands, ['fixed 10.0.0.3'], 'the other door opened while the line was being burnt');
  assert.deepEqual(daemon.openDoors.map((p) => p.door), ['fixed']);
  release();
  await world.idle();
  assert.deepEqual(world.oneTimeMarked, [{ door: 'once', line: 1 }]);
  assert.deepEqual(world.commands, ['fixed 10.0.0.3', 'once 10.0.0.2']);
});

test('a hung start command of one door does not delay the close of another', async () => {
  const world = fakeWorld();
  let release: (() => void) | undefined;
  world.ports.runCommand = async (command) => {
    world.commands.push(command);
    if (command.startsWith('hang')) await new Promise<void>((resolve) => (release = resolve));
    return ok;
  };
  const slow = makeDoor({ name: 'slow', sequence: '7100,7200', startCommand: 'hang %IP%', stopCommand: undefined });
  const fast = makeDoor({ name: 'fast', cmdTimeoutMs: 2_000 });
  const daemon = new Daemon(configWith([slow, fast]), world.ports);
  await daemon.start();
  knock(world, '10.0.0.9', ['7100:tcp', '7200:tcp']);
  await settle();
  knock(world, '10.0.0.2');
  await settle();
  await world.time.advance(2_000);
  assert.ok(world.commands.some((c) => c.startsWith('iptables -D INPUT -s 10.0.0.2')), world.commands.join('\n'));
  release?.();
  await settle();
});

test('the start and stop of the same door keep their order even when the start hangs', async () => {
  const world = fakeWorld();
  const done: string[] = [];
  let release: (() => void) | undefined;
  world.ports.runCommand = async (command) => {
    if (command.startsWith('iptables -A')) await new Promise<void>((resolve) => (release = resolve));
    done.push(command.split(' ')[1] as string);
    return ok;
  };
  const daemon = new Daemon(configWith([makeDoor({ cmdTimeoutMs: 1_000 })]), world.ports);
  await daemon.start();
  knock(world, '10.0.0.2');
  await settle();
  await world.time.advance(1_000);
  assert.deepEqual(done, [], 'the stop waits for its own start');
  release?.();
  await settle();
  assert.deepEqual(done, ['-A', '-D']);
});

test('a wall clock stepped back does not keep a door open longer', async () => {
  const world = fakeWorld();
  const daemon = world.daemon(configWith([makeDoor({ cmdTimeoutMs: 10_000 })]));
  await daemon.start();
  knock(world, '10.0.0.2');
  await world.idle();
  world.time.stepWall(-3_600_000);
  await world.time.advance(10_000);
  assert.equal(world.commands.length, 2, 'closed after 10 s of monotonic time');
});

test('a re-knock after a failed start runs the start command again', async () => {
  const world = fakeWorld();
  const outcomes: CommandOutcome[] = [fail, ok];
  world.ports.runCommand = async (command) => {
    world.commands.push(command);
    return outcomes.shift() ?? ok;
  };
  const daemon = world.daemon(configWith([makeDoor()]));
  await daemon.start();
  knock(world, '10.0.0.2');
  await world.idle();
  knock(world, '10.0.0.2');
  await world.idle();
  assert.equal(world.commands.filter((c) => c.startsWith('iptables -A')).length, 2);
});

test('a source that cannot start does not abandon the doors still to be closed', async () => {
  const world = fakeWorld();
  let starts = 0;
  world.ports.openSource = () => ({
    start: async () => {
      starts++;
      throw new Error('NFLOG group 5 is already bound');
    },
    close: async () => {},
  });
  const now = world.time.now;
  const pending = [{ id: 'a', door: 'door', source: '10.0.0.2', family: 4 as const, stopCommand: 'close a', openedAt: now - 1_000, closesAt: now + 5_000 }];
  const daemon = world.daemon(configWith([makeDoor()]), { pending, usedSteps: new Map() });
  await daemon.start();
  await world.time.advance(5_000);
  assert.deepEqual(world.commands, ['close a']);
  assert.ok(starts >= 2, 'the source is tried again');
  await daemon.stop();
});

test('with nothing to close, a source that cannot start fails the start', async () => {
  const world = fakeWorld();
  world.ports.openSource = () => ({
    start: async () => {
      throw new Error('no permission');
    },
    close: async () => {},
  });
  await assert.rejects(world.daemon(configWith([makeDoor()])).start(), /no permission/);
});

test('replayed time-based sequences are rate-limited in the log', async () => {
  const world = fakeWorld();
  const door = makeDoor({ sequence: '7000', stopCommand: undefined, startCommand: 'open %IP%' });
  const daemon = world.daemon(configWith([door]));
  await daemon.start();
  const audit = world.ports.audit;
  for (let i = 0; i < 5_000; i++) audit.replay(world.time.now, `10.0.${i >> 8}.${i & 255}`, 'door', 'step:1');
  assert.ok(world.lines.filter((line) => line.includes('replay refused')).length <= 400, `${world.lines.length} lines`);
});

test('a stop command that keeps failing is never given up: the door stays recorded', async () => {
  const world = fakeWorld();
  let stops = 0;
  world.ports.runCommand = async (command) => {
    world.commands.push(command);
    if (command.startsWith('iptables -D')) stops++;
    return command.startsWith('iptables -D') ? fail : ok;
  };
  const daemon = world.daemon(configWith([makeDoor({ cmdTimeoutMs: 1_000 })]));
  await daemon.start();
  knock(world, '10.0.0.2');
  await world.idle();
  await world.time.advance(3 * 3_600_000);
  assert.ok(stops >= 12, `${stops} attempts in 3 h`);
  assert.equal(daemon.openDoors.length, 1);
  assert.equal(world.saved.at(-1)?.length, 1);
  await daemon.stop();
});

test('closing all at exit retries a failing stop at once, and keeps it recorded if it still fails', async () => {
  const world = fakeWorld();
  const outcomes: CommandOutcome[] = [ok, fail, fail, fail];
  world.ports.runCommand = async (command) => {
    world.commands.push(command);
    return outcomes.shift() ?? ok;
  };
  const daemon = world.daemon(configWith([makeDoor()]));
  await daemon.start();
  knock(world, '10.0.0.2');
  await world.idle();
  await daemon.stop({ closeAll: true });
  assert.equal(world.commands.length, 4, 'start, then the stop three times');
  assert.equal(daemon.openDoors.length, 1, 'still recorded for the next start');
});

test('a one-time file that cannot be read does not keep recorded doors from closing', async () => {
  const world = fakeWorld();
  world.ports.oneTime.read = async () => {
    throw new Error('ENOENT: /etc/knockd/smtp');
  };
  const now = world.time.now;
  const pending = [{ id: 'a', door: 'door', source: '10.0.0.2', family: 4 as const, stopCommand: 'close a', openedAt: now - 20_000, closesAt: now - 1_000 }];
  const daemon = world.daemon(configWith([makeDoor({ name: 'smtp', steps: [], oneTimeFile: '/etc/knockd/smtp' })]), { pending, usedSteps: new Map() });
  // Whether start() then fails depends on whether the close already finished: either way it ran first.
  await daemon.start().catch((error: unknown) => assert.match(String(error), /ENOENT/));
  await world.idle();
  assert.deepEqual(world.commands, ['close a']);
  await daemon.stop();
});
