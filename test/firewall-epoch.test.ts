/**
 * A reboot or a firewall load since a door opened: its failing stop command is what a missing rule
 * looks like (src/core/firewall-epoch.ts). Pure decision, state-file round trip, and the daemon.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { epochToken, parseFirewallEpoch, ruleWasReset, type FirewallEpoch } from '../src/core/firewall-epoch.js';
import { readFirewallEpoch } from '../src/daemon/firewall-epoch-reader.js';
import { parseState, serializeState } from '../src/state/state-format.js';
import { Daemon, type CommandOutcome } from '../src/daemon/daemon.js';
import { makeDoor } from './helpers/knock-fixtures.js';
import { configWith, fakeWorld, settle } from './helpers/fake-daemon-ports.js';

const ok: CommandOutcome = { exitCode: 0, signal: null, timedOut: false, stderr: '' };
const gone: CommandOutcome = { exitCode: 1, signal: null, timedOut: false, stderr: 'iptables: Bad rule (does a matching rule exist in that chain?).' };

test('only a changed boot id or firewall generation is evidence; unknown is never evidence', () => {
  const opened: FirewallEpoch = { bootId: 'b1', generation: 'g1' };
  assert.equal(ruleWasReset(opened, { bootId: 'b1', generation: 'g1' }), undefined);
  assert.match(ruleWasReset(opened, { bootId: 'b2', generation: 'g1' }) ?? '', /rebooted/);
  assert.match(ruleWasReset(opened, { bootId: 'b1', generation: 'g2' }) ?? '', /firewall was loaded again/);
  assert.equal(ruleWasReset(opened, {}), undefined);
  assert.equal(ruleWasReset(undefined, { bootId: 'b2', generation: 'g2' }), undefined);
  assert.equal(ruleWasReset({ bootId: 'b1' }, { generation: 'g2', bootId: 'b1' }), undefined);
});

test('recorded epochs survive the state file; malformed ones are dropped, never guessed', () => {
  const pending = { id: 'x1', door: 'ssh', source: '10.0.0.2', family: 4 as const, stopCommand: 'true', openedAt: 1, closesAt: 2 };
  const withEpoch = { ...pending, firewall: { bootId: '0f7c-aa', generation: '1733130000-1' } };
  assert.deepEqual(parseState(serializeState([withEpoch])).pending, [withEpoch]);
  assert.deepEqual(parseState(serializeState([pending])).pending, [pending]);
  fc.assert(
    fc.property(fc.anything(), (raw) => {
      const epoch = parseFirewallEpoch(raw);
      if (epoch === undefined) return;
      for (const value of [epoch.bootId, epoch.generation]) if (value !== undefined) assert.match(value, /^[A-Za-z0-9._:-]{1,128}$/);
    }),
  );
  assert.equal(epochToken(' 4e1d-9\n'), '4e1d-9');
  assert.equal(epochToken('a b'), undefined);
});

test('the reader takes the boot id and the generation file, and a missing file is no evidence', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-g-epoch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'generation'), '1733130000123456789\n');
  assert.deepEqual(readFirewallEpoch('/proc/sys/kernel/random/boot_id', join(dir, 'generation')).generation, '1733130000123456789');
  assert.ok(readFirewallEpoch().bootId);
  assert.deepEqual(readFirewallEpoch(join(dir, 'none'), join(dir, 'none')), {});
});

function knock(world: ReturnType<typeof fakeWorld>, source: string) {
  for (const [port, protocol] of [[7000, 'udp'], [8000, 'tcp'], [9000, 'udp']] as const) {
    world.knock({ source, family: 4, destination: '10.0.0.1', port, protocol, tcpFlags: protocol === 'tcp' ? 2 : 0 });
  }
}

function worldWithEpoch(outcomes: CommandOutcome[]) {
  const world = fakeWorld();
  const epoch: FirewallEpoch = { bootId: 'boot-1', generation: 'gen-1' };
  world.ports.firewallEpoch = () => ({ ...epoch });
  world.ports.runCommand = async (command) => {
    world.commands.push(command);
    return outcomes.shift() ?? gone;
  };
  return { world, epoch };
}

test('after a firewall load, a stop that fails twice counts its door as closed: no endless alarm', async () => {
  const { world, epoch } = worldWithEpoch([ok]);
  const daemon = new Daemon(configWith([makeDoor({ cmdTimeoutMs: 1_000 })]), world.ports);
  await daemon.start();
  knock(world, '10.0.0.2');
  await settle();
  assert.deepEqual(world.saved.at(-1)?.[0]?.firewall, { bootId: 'boot-1', generation: 'gen-1' }, 'the open records its epoch');
  epoch.generation = 'gen-2';
  await world.time.advance(1_000);
  assert.equal(daemon.openDoors.length, 1, 'one failure is not enough: the lock may have been held');
  await world.time.advance(5_000);
  assert.equal(world.commands.filter((c) => c.startsWith('iptables -D')).length, 2);
  assert.equal(daemon.openDoors.length, 0);
  assert.equal(world.saved.at(-1)?.length, 0);
  assert.ok(world.lines.some((line) => line.includes('firewall was loaded again since the door opened; the door counts as closed')));
});

test('without a firewall load or reboot, a failing stop command is retried as before', async () => {
  const { world } = worldWithEpoch([ok]);
  const daemon = new Daemon(configWith([makeDoor({ cmdTimeoutMs: 1_000 })]), world.ports);
  await daemon.start();
  knock(world, '10.0.0.2');
  await settle();
  await world.time.advance(1_000 + 5_000 + 10_000 + 20_000);
  assert.equal(world.commands.filter((c) => c.startsWith('iptables -D')).length, 4);
  assert.equal(daemon.openDoors.length, 1);
});

test('a door restored from before a reboot whose stop fails twice is closed; one whose stop works closes at once', async () => {
  const { world } = worldWithEpoch([gone, gone]);
  const restored = [
    { id: 'a1', door: 'ssh', source: '10.0.0.2', family: 4 as const, stopCommand: 'iptables -D INPUT -s 10.0.0.2 -j ACCEPT', openedAt: 1, closesAt: 2, firewall: { bootId: 'boot-0' } },
  ];
  const daemon = new Daemon(configWith([makeDoor({})]), world.ports, { pending: restored, usedSteps: new Map() });
  await daemon.start();
  await settle();
  await world.time.advance(5_000);
  assert.equal(world.commands.length, 2);
  assert.equal(daemon.openDoors.length, 0);
});

test('a re-knock after a firewall load runs the start command again (the rule is gone) and records the new epoch', async () => {
  const { world, epoch } = worldWithEpoch([ok, ok]);
  const daemon = new Daemon(configWith([makeDoor({ cmdTimeoutMs: 60_000 })]), world.ports);
  await daemon.start();
  knock(world, '10.0.0.2');
  await settle();
  epoch.generation = 'gen-2';
  await world.time.advance(2_000);
  knock(world, '10.0.0.2');
  await settle();
  assert.equal(world.commands.filter((c) => c.startsWith('iptables -A')).length, 2, world.commands.join('\n'));
  assert.equal(world.saved.at(-1)?.[0]?.firewall?.generation, 'gen-2');
});
