import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DoorKeeper, type PendingClose } from '../src/doors/door-keeper.js';
import { DeadlineHeap } from '../src/core/deadline-heap.js';
import { decideOpen } from '../src/doors/open-decision.js';
import { simulate } from '../src/simulate/simulate.js';
import type { Config } from '../src/core/types.js';
import { defaultOptions } from '../src/core/types.js';
import { makeDoor } from './helpers/knock-fixtures.js';

const NOW = 1_700_000_000_000;

test('a first open: both commands substituted, the pending close planned but not recorded', () => {
  const keeper = new DoorKeeper();
  const decision = decideOpen(keeper, makeDoor({ name: 'ssh' }), '10.0.0.2', 4, NOW);
  assert.equal(decision.effect, 'start');
  assert.equal(decision.startCommand, 'iptables -A INPUT -s 10.0.0.2 -p tcp --dport 22 -j ACCEPT');
  assert.equal(decision.pending?.stopCommand, 'iptables -D INPUT -s 10.0.0.2 -p tcp --dport 22 -j ACCEPT');
  assert.equal(decision.pending?.closesAt, NOW + 10_000);
  assert.deepEqual(keeper.list(), [], 'deciding records nothing');
});

test('IPv6 takes the _6 commands, and a door without a stop command plans no close', () => {
  const keeper = new DoorKeeper();
  const door = makeDoor({ startCommand6: 'ip6tables -A %IP%', stopCommand6: 'ip6tables -D %IP%' });
  const v6 = decideOpen(keeper, door, 'fd00::2', 6, NOW);
  assert.equal(v6.startCommand, 'ip6tables -A fd00::2');
  assert.equal(v6.pending?.stopCommand, 'ip6tables -D fd00::2');
  const noStop = decideOpen(keeper, makeDoor({ stopCommand: undefined }), '10.0.0.2', 4, NOW);
  assert.deepEqual(Object.keys(noStop).sort(), ['effect', 'startCommand']);
});

test('a re-knock while open extends the deadline (never shortens it) and keeps the id', () => {
  const keeper = new DoorKeeper();
  const door = makeDoor();
  const first = decideOpen(keeper, door, '10.0.0.2', 4, NOW);
  assert.ok(first.pending);
  keeper.commit(first.pending);
  const again = decideOpen(keeper, door, '10.0.0.2', 4, NOW + 4_000);
  assert.equal(again.effect, 'extend');
  assert.equal(again.pending.id, first.pending.id);
  assert.equal(again.pending.closesAt, NOW + 14_000);
  const earlier = decideOpen(keeper, door, '10.0.0.2', 4, NOW - 5_000);
  assert.equal(earlier.pending?.closesAt, NOW + 10_000);
  assert.equal(decideOpen(keeper, door, '10.0.0.3', 4, NOW).effect, 'start', 'another source opens its own');
});

test('simulate reports exactly what the open decision decides (one decision, two callers)', () => {
  const door = makeDoor({ name: 'openSSH', sequence: '7000:udp' });
  const config: Config = { file: 'knockd.conf', options: { ...defaultOptions }, doors: [door] };
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 6 }), (gapsSeconds) => {
      let at = Date.UTC(2026, 10, 22, 10, 0, 0);
      const lines = gapsSeconds.map((gap, index) => {
        at += gap * 1000;
        const stamp = new Date(at).toISOString().replace('Z', '+00:00');
        return `${stamp} vm kernel: portknock IN=eth0 OUT= SRC=10.0.0.2 DST=10.0.0.1 LEN=30 TOS=0x00 PREC=0x00 TTL=64 ID=${index + 1} PROTO=UDP SPT=40000 DPT=7000 LEN=10 `;
      });
      const report = simulate(lines, config, { reference: at, utcOffsetAt: () => 0, dedicatedKernelLog: true });
      const keeper = new DoorKeeper();
      for (const open of report.opens) {
        // Simulate closes what is due before it feeds the knock, as the daemon's close timer would.
        keeper.takeDue(open.at).forEach((due) => keeper.finishClose(due.id));
        const decision = decideOpen(keeper, door, open.source, open.family, open.at);
        assert.equal(open.effect, decision.effect);
        assert.equal(open.closesAt, decision.pending?.closesAt);
        if (decision.effect === 'start') assert.equal(open.startCommand, decision.startCommand);
        if (decision.pending) keeper.commit(decision.pending);
      }
      assert.equal(report.opens.length, lines.length);
    }),
    { numRuns: 200 },
  );
});

test('issue 13: an Open door without commands plans its kernel call and a pending close that removes it; a re-knock renews the same call', () => {
  const keeper = new DoorKeeper();
  const open = { firewall: 'ipset' as const, ports: [{ protocol: 'tcp' as const, from: 2222, to: 2222 }] };
  const door = makeDoor({ startCommand: undefined, stopCommand: undefined, cmdTimeoutMs: 5_000, open });
  const first = decideOpen(keeper, door, '10.0.0.2', 4, NOW);
  assert.equal(first.effect, 'start');
  assert.equal(first.startCommand, undefined);
  assert.deepEqual(first.openCall, { argv: ['ipset', 'add', 'nfknock-open4', '10.0.0.2,tcp:2222', 'timeout', '5', '-exist'] });
  assert.ok(first.pending);
  assert.deepEqual(first.pending.open, open);
  assert.equal('stopCommand' in first.pending, false, 'no stop command is invented');
  keeper.commit(first.pending);
  const again = decideOpen(keeper, door, '10.0.0.2', 4, NOW + 3_000);
  assert.equal(again.effect, 'extend');
  assert.deepEqual(again.openCall, first.openCall);
  assert.equal(again.pending.closesAt, NOW + 8_000);
});

test('issue 13: %TIMEOUT% is cmd_timeout in whole seconds in both commands', () => {
  const door = makeDoor({ cmdTimeoutMs: 2_500, startCommand: 'nft add element inet f s { %IP% timeout %TIMEOUT%s }', stopCommand: 'echo %TIMEOUT%' });
  const decision = decideOpen(new DoorKeeper(), door, '10.0.0.2', 4, NOW);
  assert.equal(decision.startCommand, 'nft add element inet f s { 10.0.0.2 timeout 3s }');
  assert.equal(decision.pending?.stopCommand, 'echo 3');
});

test('the deadline heap pops in time order whatever the pushes', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 200 }), (times) => {
      const heap = new DeadlineHeap();
      times.forEach((at, i) => heap.push(at, `d${i}`));
      const popped: number[] = [];
      for (let entry = heap.pop(); entry !== undefined; entry = heap.pop()) popped.push(entry.at);
      assert.deepEqual(popped, [...times].sort((a, b) => a - b));
    }),
  );
});

test('takeDue and nextDeadline agree with a walk over every door, through extends, closes and retries', () => {
  type Op = { kind: 'open' | 'extend' | 'take' | 'finish' | 'retry'; n: number; t: number };
  const op: fc.Arbitrary<Op> = fc.record({ kind: fc.constantFrom('open', 'extend', 'take', 'finish', 'retry'), n: fc.integer({ min: 0, max: 5 }), t: fc.integer({ min: 0, max: 100 }) });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const keeper = new DoorKeeper();
      const closing = new Set<string>();
      let now = 0;
      for (const { kind, n, t } of ops) {
        const source = `10.0.0.${n}`;
        const open = keeper.openFor('ssh', source);
        if (kind === 'open' && !open) keeper.commit(keeper.newPendingClose({ door: 'ssh', source, family: 4, stopCommand: `close ${source}`, openedAt: now, closesAt: now + t }));
        if (kind === 'extend' && open) keeper.commit({ ...open, closesAt: open.closesAt + t });
        if (kind === 'take') {
          now += t;
          const expected = keeper.list().filter((p) => !closing.has(p.id) && p.closesAt <= now).map((p) => p.id).sort();
          const taken = keeper.takeDue(now);
          assert.deepEqual(taken.map((p) => p.id).sort(), expected);
          assert.ok(taken.every((p, i) => i === 0 || (taken[i - 1] as PendingClose).closesAt <= p.closesAt), 'earliest first');
          for (const p of taken) closing.add(p.id);
        }
        const someClosing = [...closing][n % Math.max(1, closing.size)];
        if (kind === 'finish' && someClosing !== undefined) {
          keeper.finishClose(someClosing);
          closing.delete(someClosing);
        }
        if (kind === 'retry' && someClosing !== undefined) {
          keeper.retryClose(someClosing, now + t);
          closing.delete(someClosing);
        }
        const waiting = keeper.list().filter((p) => !closing.has(p.id));
        assert.equal(keeper.nextDeadline(), waiting.length === 0 ? undefined : Math.min(...waiting.map((p) => p.closesAt)));
      }
    }),
    { numRuns: 300 },
  );
});
