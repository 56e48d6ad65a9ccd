import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeDoor } from './helpers/knock-fixtures.js';
import { configWith, fakeWorld } from './helpers/fake-daemon-ports.js';

const door = makeDoor({ name: 'ssh', cmdTimeoutMs: 10_000 });
const open = 'iptables -A INPUT -s 10.0.0.2 -p tcp --dport 22 -j ACCEPT';
const close = 'iptables -D INPUT -s 10.0.0.2 -p tcp --dport 22 -j ACCEPT';

function knockAll(world: ReturnType<typeof fakeWorld>, source = '10.0.0.2') {
  for (const [port, protocol] of [[7000, 'udp'], [8000, 'tcp'], [9000, 'udp']] as const) {
    world.knock({ source, family: source.includes(':') ? 6 : 4, destination: '10.0.0.1', port, protocol, tcpFlags: protocol === 'tcp' ? 2 : 0 });
  }
}

test('the pending close is saved before the start command runs, and the stop command runs on time', async () => {
  const world = fakeWorld();
  const order: string[] = [];
  // Each record is one decision; the count is of the doors recorded once it is on disk.
  const record = world.ports.state.record;
  world.ports.state.record = async (change) => {
    await record(change);
    order.push(`save:${world.saved.at(-1)?.length}`);
  };
  const run = world.ports.runCommand;
  world.ports.runCommand = async (command, kind, about) => {
    order.push(kind);
    return run(command, kind, about);
  };
  const daemon = world.daemon(configWith([door]));
  await daemon.start();
  knockAll(world);
  await world.idle();
  assert.deepEqual(order, ['save:1', 'start']);
  assert.deepEqual(world.commands, [open]);
  assert.equal(world.saved[0]?.[0]?.stopCommand, close);
  await world.time.advance(9_999);
  assert.deepEqual(world.commands, [open]);
  await world.time.advance(1);
  assert.deepEqual(world.commands, [open, close]);
  assert.deepEqual(order, ['save:1', 'start', 'stop', 'save:0']);
  assert.equal(daemon.openDoors.length, 0);
  assert.ok(world.lines.includes('10.0.0.2: ssh: OPEN SESAME'));
  assert.ok(world.lines.includes(`ssh: running command: ${open}`));
  assert.ok(world.lines.includes('10.0.0.2: ssh: command timeout'));
});

test('a door re-knocked while open extends its deadline without running the start command again', async () => {
  const world = fakeWorld();
  const daemon = world.daemon(configWith([door]));
  await daemon.start();
  knockAll(world);
  await world.idle();
  await world.time.advance(6_000);
  knockAll(world);
  await world.idle();
  await world.time.advance(5_000);
  assert.deepEqual(world.commands, [open], 'not closed at the first deadline, not started twice');
  await world.time.advance(5_000);
  assert.deepEqual(world.commands, [open, close]);
});

test('a door is not opened when its pending close cannot be saved', async () => {
  const world = fakeWorld();
  world.failSaves = true;
  const daemon = world.daemon(configWith([door]));
  await daemon.start();
  knockAll(world);
  await world.idle();
  assert.deepEqual(world.commands, []);
  assert.ok(world.lines.some((line) => line.includes('door stays shut')));
  assert.equal(daemon.openDoors.length, 0);
});

test('after a restart, overdue closes run at once and the rest on time', async () => {
  const world = fakeWorld();
  const now = world.time.now;
  const pending = [
    { id: 'a', door: 'ssh', source: '10.0.0.2', family: 4 as const, stopCommand: 'close a', openedAt: now - 20_000, closesAt: now - 10_000 },
    { id: 'b', door: 'ssh', source: '10.0.0.3', family: 4 as const, stopCommand: 'close b', openedAt: now - 1_000, closesAt: now + 9_000 },
  ];
  const daemon = world.daemon(configWith([door]), { pending, usedSteps: new Map() });
  await daemon.start();
  await world.idle();
  assert.deepEqual(world.commands, ['close a']);
  assert.deepEqual(world.saved.at(-1)?.map((p) => p.id), ['b']);
  await world.time.advance(9_000);
  assert.deepEqual(world.commands, ['close a', 'close b']);
});

test('stopping keeps open doors recorded, or closes them all when asked', async () => {
  for (const closeAll of [false, true]) {
    const world = fakeWorld();
    const daemon = world.daemon(configWith([door]));
    await daemon.start();
    knockAll(world);
    await world.idle();
    await daemon.stop({ closeAll });
    assert.deepEqual(world.commands, closeAll ? [open, close] : [open]);
    assert.equal(world.saved.at(-1)?.length, closeAll ? 0 : 1);
    knockAll(world, '10.0.0.9');
    await world.idle();
    assert.equal(world.commands.filter((c) => c.includes('10.0.0.9')).length, 0, 'nothing new runs after stop');
  }
});

test('IPv6 knocks run the _6 commands, falling back to the IPv4 ones', async () => {
  const world = fakeWorld();
  const v6 = makeDoor({ name: 'v6', startCommand6: 'ip6tables -A INPUT -s %IP% -j ACCEPT', stopCommand6: undefined });
  const daemon = world.daemon(configWith([v6]));
  await daemon.start();
  knockAll(world, 'fd00::2');
  await world.idle();
  await world.time.advance(10_000);
  assert.deepEqual(world.commands, ['ip6tables -A INPUT -s fd00::2 -j ACCEPT', 'iptables -D INPUT -s fd00::2 -p tcp --dport 22 -j ACCEPT']);
});

test('a command-only door (no stop command) runs its command on every open and records nothing', async () => {
  const world = fakeWorld();
  const daemon = world.daemon(configWith([makeDoor({ name: 'cmd', stopCommand: undefined, startCommand: 'echo %IP%' })]));
  await daemon.start();
  knockAll(world);
  await world.idle();
  knockAll(world);
  await world.idle();
  assert.deepEqual(world.commands, ['echo 10.0.0.2', 'echo 10.0.0.2']);
  assert.equal(daemon.openDoors.length, 0);
});

test('what the door keeper plans survives the state file format (ids included)', async () => {
  const { DoorKeeper } = await import('../src/doors/door-keeper.js');
  const { decideOpen } = await import('../src/doors/open-decision.js');
  const { serializeState, parseState } = await import('../src/state/state-format.js');
  const keeper = new DoorKeeper();
  const decision = decideOpen(keeper, makeDoor({ name: 'open SSH | now' }), 'fd00::2', 6, 1_700_000_000_000);
  assert.equal(decision.effect, 'start');
  const pending = decision.effect === 'start' ? decision.pending : undefined;
  assert.ok(pending);
  const parsed = parseState(serializeState([pending]));
  assert.deepEqual(parsed.problems, []);
  assert.deepEqual(parsed.pending, [pending]);
});

test('cmd_timeout runs from when the door opens, not from an early log stamp', async () => {
  const world = fakeWorld();
  const daemon = world.daemon(configWith([door]));
  await daemon.start();
  for (const [port, protocol] of [[7000, 'udp'], [8000, 'tcp'], [9000, 'udp']] as const) {
    world.knock({ source: '10.0.0.2', family: 4, destination: '10.0.0.1', port, protocol, tcpFlags: protocol === 'tcp' ? 2 : 0, at: world.time.now - 900 });
  }
  await world.idle();
  assert.equal(daemon.openDoors[0]?.closesAt, world.time.now + 10_000);
});

test('a door whose save is slow holds up no other door\'s decision; the same door and source waits for it', async () => {
  const world = fakeWorld();
  const record = world.ports.state.record;
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const recorded: string[] = [];
  world.ports.state.record = async (change) => {
    const source = 'opened' in change ? change.opened.source : change.closed;
    recorded.push(source);
    if (source === '10.0.0.2') await held;
    await record(change);
  };
  const daemon = world.daemon(configWith([door]));
  await daemon.start();
  knockAll(world, '10.0.0.2');
  knockAll(world, '10.0.0.3');
  const other = open.replace('10.0.0.2', '10.0.0.3');
  for (let i = 0; i < 1000 && !world.commands.includes(other); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(world.commands, [other], 'the other source\'s door opened while the first save hangs; the first door waits for its save');
  knockAll(world, '10.0.0.2');
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(recorded, ['10.0.0.2', '10.0.0.3'], 'the re-knock of 10.0.0.2 is not decided before its first save is on disk');
  release();
  await world.idle();
  assert.deepEqual(world.commands, [other, open], 'opened once its save is done; the re-knock extended it');
  assert.deepEqual(recorded, ['10.0.0.2', '10.0.0.3', '10.0.0.2']);
  assert.equal(daemon.openDoors.length, 2);
});

test('a door opened after another but closing before it moves the close timer earlier', async () => {
  const world = fakeWorld();
  const quick = makeDoor({ name: 'quick', sequence: '7100:udp,8100:tcp,9100:udp', cmdTimeoutMs: 2_000, stopCommand: 'close quick %IP%' });
  const daemon = world.daemon(configWith([door, quick]));
  await daemon.start();
  knockAll(world);
  await world.idle();
  for (const [port, protocol] of [[7100, 'udp'], [8100, 'tcp'], [9100, 'udp']] as const) {
    world.knock({ source: '10.0.0.2', family: 4, destination: '10.0.0.1', port, protocol, tcpFlags: protocol === 'tcp' ? 2 : 0 });
  }
  await world.idle();
  await world.time.advance(1_999);
  assert.ok(!world.commands.includes('close quick 10.0.0.2'));
  await world.time.advance(1);
  assert.ok(world.commands.includes('close quick 10.0.0.2'), 'closed at its own cmd_timeout, not the first door\'s');
  assert.ok(!world.commands.includes(close));
  await world.time.advance(8_000);
  assert.ok(world.commands.includes(close));
});
