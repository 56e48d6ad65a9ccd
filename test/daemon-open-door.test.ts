import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeCall, type FirewallCall } from '../src/firewall/operations.js';
import { parseState, serializeState, type PendingClose } from '../src/state/state-format.js';
import type { CommandOutcome } from '../src/daemon/door-service.js';
import { makeDoor } from './helpers/knock-fixtures.js';
import { simulate } from '../src/simulate/simulate.js';
import { parseConfig } from '../src/config/parse.js';
import { traditionalLine } from './fixtures/simulate/lines.js';
import { configWith, fakeWorld, type FakeWorld } from './helpers/fake-daemon-ports.js';

const door = makeDoor({
  name: 'ssh',
  cmdTimeoutMs: 5_000,
  startCommand: undefined,
  stopCommand: undefined,
  open: { firewall: 'nft', ports: [{ protocol: 'tcp', from: 2222, to: 2222 }] },
});
const put = (source: string, set = 'open4') =>
  `nft add element inet nfknock ${set} { ${source} . tcp . 2222 } ; delete element inet nfknock ${set} { ${source} . tcp . 2222 } ; add element inet nfknock ${set} { ${source} . tcp . 2222 timeout 5s }`;
const removal = (source: string, set = 'open4') => `nft add element inet nfknock ${set} { ${source} . tcp . 2222 } ; delete element inet nfknock ${set} { ${source} . tcp . 2222 }`;
const ok: CommandOutcome = { exitCode: 0, signal: null, timedOut: false, stderr: '' };

function withPrograms(world: FakeWorld, outcomes: CommandOutcome[] = []): string[] {
  const calls: string[] = [];
  world.ports.runProgram = async (call: FirewallCall) => {
    calls.push(describeCall(call));
    return outcomes.shift() ?? ok;
  };
  return calls;
}

function knockAll(world: FakeWorld, source = '10.0.0.2') {
  for (const [port, protocol] of [[7000, 'udp'], [8000, 'tcp'], [9000, 'udp']] as const) {
    world.knock({ source, family: source.includes(':') ? 6 : 4, destination: '10.0.0.1', port, protocol, tcpFlags: protocol === 'tcp' ? 2 : 0 });
  }
}

test('an Open door: the removal is saved before the kernel entry is added, and runs at cmd_timeout with knockd\'s lines', async () => {
  const world = fakeWorld();
  const calls = withPrograms(world);
  const daemon = world.daemon(configWith([door]));
  await daemon.start();
  knockAll(world);
  await world.idle();
  assert.deepEqual(calls, [put('10.0.0.2')]);
  assert.deepEqual(world.saved[0]?.[0]?.open, door.open);
  assert.equal(world.saved[0]?.[0]?.stopCommand, undefined);
  assert.deepEqual(world.commands, [], 'no shell command runs');
  await world.time.advance(4_999);
  assert.equal(calls.length, 1);
  await world.time.advance(1);
  assert.deepEqual(calls, [put('10.0.0.2'), removal('10.0.0.2')]);
  assert.equal(daemon.openDoors.length, 0);
  for (const line of ['10.0.0.2: ssh: OPEN SESAME', `ssh: running command: ${put('10.0.0.2')}`, '10.0.0.2: ssh: command timeout', '10.0.0.2: ssh: closing door', `ssh: running command: ${removal('10.0.0.2')}`]) {
    assert.ok(world.lines.includes(line), line);
  }
});

test('an Open door re-knocked while open renews the kernel timeout and closes at the later deadline; IPv6 uses open6', async () => {
  const world = fakeWorld();
  const calls = withPrograms(world);
  const daemon = world.daemon(configWith([door]));
  await daemon.start();
  knockAll(world, 'fd00::2');
  await world.idle();
  await world.time.advance(3_000);
  knockAll(world, 'fd00::2');
  await world.idle();
  assert.deepEqual(calls, [put('fd00::2', 'open6'), put('fd00::2', 'open6')]);
  await world.time.advance(4_000);
  assert.equal(calls.length, 2, 'not closed at the first deadline');
  await world.time.advance(1_000);
  assert.deepEqual(calls.at(-1), removal('fd00::2', 'open6'));
});

test('a removal that finds the set gone counts as closed; any other failure keeps the door and retries', async () => {
  const gone = fakeWorld();
  const goneCalls = withPrograms(gone, [ok, { exitCode: 1, signal: null, timedOut: false, stderr: 'Error: Could not process rule: No such file or directory' }]);
  const first = gone.daemon(configWith([door]));
  await first.start();
  knockAll(gone);
  await gone.idle();
  await gone.time.advance(5_000);
  assert.equal(goneCalls.length, 2);
  assert.equal(first.openDoors.length, 0);

  const failing = fakeWorld();
  const calls = withPrograms(failing, [ok, { exitCode: 1, signal: null, timedOut: false, stderr: 'Error: Operation not permitted' }]);
  const second = failing.daemon(configWith([door]));
  await second.start();
  knockAll(failing);
  await failing.idle();
  await failing.time.advance(5_000);
  assert.equal(second.openDoors.length, 1, 'still recorded');
  await failing.time.advance(5_000);
  assert.deepEqual(calls, [put('10.0.0.2'), removal('10.0.0.2'), removal('10.0.0.2')]);
  assert.equal(second.openDoors.length, 0);
});

test('a door with Open and a Stop_Command runs both at close, kernel entry first', async () => {
  const world = fakeWorld();
  const order: string[] = [];
  world.ports.runProgram = async (call) => {
    order.push(call.argv[0] as string);
    return ok;
  };
  const run = world.ports.runCommand;
  world.ports.runCommand = async (command, kind, about) => {
    order.push(`sh:${kind}`);
    return run(command, kind, about);
  };
  const both = makeDoor({ ...door, startCommand: 'logger opened %IP% for %TIMEOUT% s', stopCommand: 'logger closed %IP%' });
  const daemon = world.daemon(configWith([both]));
  await daemon.start();
  knockAll(world);
  await world.idle();
  await world.time.advance(5_000);
  assert.deepEqual(order, ['nft', 'sh:start', 'nft', 'sh:stop']);
  assert.deepEqual(world.commands, ['logger opened 10.0.0.2 for 5 s', 'logger closed 10.0.0.2']);
});

test('a recorded Open removal survives the state file, and restores into a close after restart', async () => {
  const pending: PendingClose = { id: 'a', door: 'ssh', source: '10.0.0.2', family: 4, open: door.open!, openedAt: 1, closesAt: 2 };
  assert.deepEqual(parseState(serializeState([pending])), { pending: [pending], problems: [], readable: true });
  const broken = serializeState([{ ...pending, open: { firewall: 'pf', ports: [] } as never }]);
  assert.match(parseState(broken).problems[0] ?? '', /"open" firewall must be one of nft, ipset/);
  const neither = JSON.stringify({ format: 'nfknock-state', version: 1, pending: [{ id: 'a', door: 'ssh', source: '10.0.0.2', family: 4, openedAt: 1, closesAt: 2 }] });
  assert.match(parseState(neither).problems[0] ?? '', /nothing would close the door/);

  const world = fakeWorld();
  const calls = withPrograms(world);
  const daemon = world.daemon(configWith([door]), { pending: [{ ...pending, openedAt: world.time.now - 10_000, closesAt: world.time.now - 5_000 }], usedSteps: new Map() });
  await daemon.start();
  await world.idle();
  assert.deepEqual(calls, [removal('10.0.0.2')]);
  assert.equal(daemon.openDoors.length, 0);
});

test('simulate shows what an Open door runs, from the same door calls as the daemon', async () => {
  const config = parseConfig('[ssh]\nsequence = 7000,8000,9000\nOpen = 2222\ncmd_timeout = 5\n', 'k.conf');
  const at = Date.UTC(2026, 10, 21, 23, 14, 2);
  const lines = [7000, 8000, 9000].map((port) => traditionalLine({ at, source: '10.0.0.2', port, protocol: 'tcp' }));
  const report = simulate(lines, config, { reference: at, utcOffsetAt: () => 0 });
  const open = report.events.find((event) => event.kind === 'open');
  const close = report.events.find((event) => event.kind === 'close');
  assert.equal(open?.kind === 'open' ? open.startCommand : undefined, put('10.0.0.2'));
  assert.equal(close?.kind === 'close' ? close.stopCommand : undefined, removal('10.0.0.2'));
});
