import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sweepMarks, type Segment } from '../src/rules/sweep.js';
import { checkDoorPairs, CloserIndex } from '../src/check/door-pairs.js';
import type { Door, KnockStep, Protocol, TcpFlagRule } from '../src/core/types.js';
import { makeDoor } from './helpers/knock-fixtures.js';

/**
 * `rules` and `check` went from comparing everything with everything to a sweep and to grouping; the
 * quadratic versions they replaced are the models here, and must give the same answers.
 */
function pairwiseMarks(protocol: Protocol, segments: Segment[]) {
  const bounds = [...new Set(segments.flatMap((s) => [s.from, s.to + 1]))].sort((a, b) => a - b);
  const marks: { protocol: Protocol; from: number; to: number; tcpFlags: TcpFlagRule; doors: string[] }[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const from = bounds[i]!;
    const to = bounds[i + 1]! - 1;
    const covering = segments.filter((s) => s.from <= from && s.to >= to);
    if (covering.length === 0) continue;
    const tcpFlags = covering.reduce((acc, s) => ({ required: acc.required & s.tcpFlags.required, forbidden: acc.forbidden & s.tcpFlags.forbidden }), covering[0]!.tcpFlags);
    const doors = [...new Set(covering.map((s) => s.door))].sort();
    const previous = marks[marks.length - 1];
    if (previous && previous.to + 1 === from && previous.tcpFlags.required === tcpFlags.required && previous.tcpFlags.forbidden === tcpFlags.forbidden) {
      previous.to = to;
      previous.doors = [...new Set([...previous.doors, ...doors])].sort();
    } else marks.push({ protocol, from, to, tcpFlags, doors });
  }
  return marks;
}

test('the sweep cuts and joins marks exactly as comparing every segment with every boundary (property)', () => {
  const segment = fc.record({
    from: fc.integer({ min: 1, max: 60 }),
    width: fc.integer({ min: 0, max: 12 }),
    required: fc.integer({ min: 0, max: 63 }),
    forbidden: fc.integer({ min: 0, max: 63 }),
    door: fc.constantFrom('a', 'b', 'c', 'd'),
  }).map((s): Segment => ({ protocol: 'tcp', from: s.from, to: s.from + s.width, tcpFlags: { required: s.required, forbidden: s.forbidden }, door: s.door }));
  fc.assert(
    fc.property(fc.array(segment, { maxLength: 25 }), (segments) => {
      assert.deepEqual(sweepMarks('tcp', segments), pairwiseMarks('tcp', segments));
    }),
    { numRuns: 3000 },
  );
});

test('... also when many segments share a door and a flag test (a one-time door\'s ports), overlapping or touching (property)', () => {
  const flags = [
    { required: 0, forbidden: 0 },
    { required: 2, forbidden: 16 },
    { required: 2, forbidden: 0 },
  ];
  const segment = fc.record({
    from: fc.integer({ min: 1, max: 30 }),
    width: fc.integer({ min: 0, max: 4 }),
    flags: fc.integer({ min: 0, max: flags.length - 1 }),
    door: fc.constantFrom('a', 'b'),
  }).map((s): Segment => ({ protocol: 'tcp', from: s.from, to: s.from + s.width, tcpFlags: { ...flags[s.flags]! }, door: s.door }));
  fc.assert(
    fc.property(fc.array(segment, { maxLength: 60 }), (segments) => {
      assert.deepEqual(sweepMarks('tcp', segments), pairwiseMarks('tcp', segments));
    }),
    { numRuns: 3000 },
  );
});

type Warning = { door: string; code: string; message: string };

function pairwiseDoorPairs(doors: Door[]): Warning[] {
  const out: Warning[] = [];
  const text = (s: KnockStep) => `${s.port}/${s.protocol}`;
  for (let i = 0; i < doors.length; i++) {
    for (let j = i + 1; j < doors.length; j++) {
      const a = doors[i]!;
      const b = doors[j]!;
      const [short, long] = a.steps.length <= b.steps.length ? [a, b] : [b, a];
      if (short.steps.length === 0) continue;
      if (short.steps.every((s, k) => text(s) === text(long.steps[k]!))) {
        out.push({ door: long.name, code: 'sequence-prefix', message: short.steps.length === long.steps.length ? `same:${short.name}:${long.name}` : `starts:${short.name}:${long.name}` });
      } else if (text(short.steps[0]!) === text(long.steps[0]!)) {
        out.push({ door: b.name, code: 'shared-first-knock', message: `shared:${a.name}:${b.name}` });
      }
    }
  }
  return out;
}

/** Warnings per door in the order given: what the report shows after its stable sort by line and code. */
function perDoor(warnings: Warning[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const w of warnings) map.set(`${w.door}/${w.code}`, [...(map.get(`${w.door}/${w.code}`) ?? []), w.message]);
  return map;
}

test('door pairs grouped by first knock warn as comparing every pair did, in the same order per door (property)', () => {
  const step = fc.record({ port: fc.integer({ min: 1, max: 3 }), protocol: fc.constantFrom<Protocol>('tcp', 'udp') });
  fc.assert(
    fc.property(fc.array(fc.array(step, { maxLength: 3 }), { maxLength: 9 }), (sequences) => {
      const doors = sequences.map((steps, i) => makeDoor({ name: `d${i}`, steps }));
      const got: Warning[] = [];
      checkDoorPairs(doors, (door, code, message) => {
        const names = [...message.matchAll(/\[(d\d+)\]/g)].map((m) => m[1]);
        const kind = code === 'shared-first-knock' ? 'shared' : message.includes('same sequence') ? 'same' : 'starts';
        got.push({ door: door.name, code, message: `${kind}:${names[0]}:${names[1]}` });
      });
      assert.deepEqual(perDoor(got), perDoor(pairwiseDoorPairs(doors)));
    }),
    { numRuns: 3000 },
  );
});

test('the closer of a door is the first other door whose start_command deletes what it adds', () => {
  const deletionOf = (command: string) => command.replace(' -A ', ' -D ');
  const opens = (command: string) => !command.includes(' -D ');
  const open = makeDoor({ name: 'open', startCommand: 'iptables -A INPUT -s %IP% -j ACCEPT' });
  const close1 = makeDoor({ name: 'close1', startCommand: 'iptables -D INPUT -s %IP% -j ACCEPT' });
  const close2 = makeDoor({ name: 'close2', startCommand: 'iptables -D INPUT -s %IP% -j ACCEPT' });
  const other = makeDoor({ name: 'other', startCommand: 'iptables -A INPUT -s %IP% -p tcp -j ACCEPT' });
  const index = new CloserIndex([open, close1, close2, other], deletionOf, opens);
  assert.equal(index.closerOf(open, open.startCommand!)?.name, 'close1');
  assert.equal(index.closerOf(close1, close1.startCommand!)?.name, 'close2');
  assert.equal(index.closerOf(other, other.startCommand!), undefined);
});
