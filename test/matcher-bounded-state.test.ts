import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Matcher, type MatcherAction } from '../src/matcher/matcher.js';
import { knock, makeDoor } from './helpers/knock-fixtures.js';

function spoofed(i: number): string {
  return `198.51.${(i >> 8) & 0xff}.${i & 0xff}`;
}

test('attempts never exceed the cap under a flood of spoofed first knocks', () => {
  const actions: MatcherAction[] = [];
  const matcher = new Matcher([makeDoor()], { maxAttempts: 100, onAction: (a) => actions.push(a) });
  for (let i = 0; i < 10_000; i++) {
    matcher.feed(knock(spoofed(i), '7000:udp', i));
    assert.ok(matcher.attemptCount <= 100);
  }
  assert.equal(matcher.attemptCount, 100);
  assert.equal(actions.filter((a) => a.kind === 'evict').length, 9_900);
});

test('a real client that passed more stages survives a flood of first knocks', () => {
  const opens: string[] = [];
  const matcher = new Matcher([makeDoor({ seqTimeoutMs: 60_000 })], {
    maxAttempts: 50,
    onAction: (a) => a.kind === 'open' && opens.push(a.source),
  });
  matcher.feed(knock('10.0.0.2', '7000:udp', 0));
  matcher.feed(knock('10.0.0.2', '8000:tcp', 1));
  for (let i = 0; i < 5_000; i++) matcher.feed(knock(spoofed(i), '7000:udp', 2 + i));
  matcher.feed(knock('10.0.0.2', '9000:udp', 6000));
  assert.deepEqual(opens, ['10.0.0.2']);
});

test('when every slot holds a later stage, a new first knock is refused instead', () => {
  const actions: MatcherAction[] = [];
  const matcher = new Matcher([makeDoor({ seqTimeoutMs: 60_000 })], { maxAttempts: 2, onAction: (a) => actions.push(a) });
  for (const source of ['10.0.0.2', '10.0.0.3']) {
    matcher.feed(knock(source, '7000:udp', 0));
    matcher.feed(knock(source, '8000:tcp', 1));
  }
  matcher.feed(knock('10.0.0.4', '7000:udp', 2));
  assert.deepEqual(actions.at(-1), { kind: 'evict', door: matcher.currentDoors[0], doors: [matcher.currentDoors[0]], source: '10.0.0.4', family: 4, stage: 0, at: 2 });
  for (const source of ['10.0.0.2', '10.0.0.3']) matcher.feed(knock(source, '9000:udp', 3));
  assert.equal(actions.filter((a) => a.kind === 'open').length, 2);
});

test('the oldest first-stage attempt is the one evicted', () => {
  const evicted: string[] = [];
  const matcher = new Matcher([makeDoor()], { maxAttempts: 3, onAction: (a) => a.kind === 'evict' && evicted.push(a.source) });
  for (const [i, source] of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'].entries()) matcher.feed(knock(source, '7000:udp', i));
  assert.deepEqual(evicted, ['10.0.0.1', '10.0.0.2']);
});

test('attempt count stays consistent with what the matcher holds (property)', () => {
  const ports = ['7000:udp', '8000:tcp', '9000:udp', '8000:udp', '7000:tcp'];
  fc.assert(
    fc.property(
      fc.array(fc.record({ source: fc.integer({ min: 0, max: 6 }), step: fc.constantFrom(...ports), dt: fc.integer({ min: 0, max: 3000 }), tick: fc.boolean() }), { maxLength: 200 }),
      fc.integer({ min: 1, max: 5 }),
      (script, cap) => {
        let live = 0;
        const matcher = new Matcher([makeDoor({ seqTimeoutMs: 4000 }), makeDoor({ name: 'b', sequence: '8000:tcp,7000:udp' })], {
          maxAttempts: cap,
          onAction: (a) => {
            if (a.kind === 'stage' && a.stage === 1) live++;
            if (a.kind === 'broken' || a.kind === 'expire' || (a.kind === 'evict' && a.stage > 0)) live--;
            if (a.kind === 'open' && a.door.steps.length > 1) live--;
          },
        });
        let at = 0;
        for (const entry of script) {
          at += entry.dt;
          if (entry.tick) matcher.tick(at);
          else matcher.feed(knock(`10.0.0.${entry.source}`, entry.step, at));
          assert.equal(matcher.attemptCount, live);
          assert.ok(matcher.attemptCount <= cap);
        }
      },
    ),
    { numRuns: 3000 },
  );
});
