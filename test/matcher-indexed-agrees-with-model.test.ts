import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Matcher, type MatcherAction } from '../src/matcher/matcher.js';
import { SequenceBook, type OneTimeLine, type TimeSequenceDeriver } from '../src/matcher/sequences.js';
import { matchingFingerprint } from '../src/matcher/fingerprint.js';
import { TcpFlag, type Door, type KnockEvent, type KnockStep, type Protocol } from '../src/core/types.js';
import { describeAction, ReferenceMatcher } from './helpers/reference-matcher.js';
import { knock, makeDoor } from './helpers/knock-fixtures.js';

/**
 * The indexed matcher (doors by first knock, each source's own attempts) against the straightforward
 * model that visits every door for every packet: same actions, in the same order, same attempt count.
 * Ports come from a tiny alphabet so that doors share first knocks, and breaks, replays, evictions,
 * reloads and one-time reloads happen all the time.
 */
const PORTS: KnockStep[] = [1, 2, 3].flatMap((port) => (['tcp', 'udp'] as Protocol[]).map((protocol) => ({ port, protocol })));

/**
 * Step t of door d: a few ports drawn from the alphabet by a tiny hash of (name, t); period 1 s. Doors
 * of length 2 accept three steps (a wider skew window), so that a first knock matches one of three
 * candidates, or two of them, as well as one of two.
 */
const deriver: TimeSequenceDeriver = {
  stepsAt: (door, at) => {
    const step = Math.floor(at / (door.timeSequence!.periodSeconds * 1000));
    const window = door.timeSequence!.length === 2 ? 3 : 2;
    return Array.from({ length: Math.min(window, step + 1) }, (_, i) => step - i);
  },
  derive: (door, step) => {
    const seed = [...door.name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, step * 7919);
    return Array.from({ length: door.timeSequence!.length }, (_, i) => PORTS[Math.abs(seed * (i + 3)) % PORTS.length]!);
  },
};

const stepArb = fc.constantFrom(...PORTS);
const sequenceArb = fc.array(stepArb, { minLength: 1, maxLength: 3 });
const doorArb = (name: string) =>
  fc.record({
    kind: fc.constantFrom('fixed', 'fixed', 'one-time', 'time'),
    steps: sequenceArb,
    lines: fc.array(sequenceArb, { maxLength: 3 }),
    syn: fc.boolean(),
    noAck: fc.boolean(),
    target: fc.boolean(),
    timeout: fc.constantFrom(800, 3000),
    length: fc.integer({ min: 1, max: 3 }),
  }).map((spec) => {
    const door = makeDoor({
      name,
      steps: spec.kind === 'fixed' ? spec.steps : [],
      seqTimeoutMs: spec.timeout,
      tcpFlags: { required: spec.syn ? TcpFlag.SYN : 0, forbidden: spec.noAck ? TcpFlag.ACK : 0 },
      ...(spec.target ? { target: '10.0.0.1' } : {}),
      ...(spec.kind === 'one-time' ? { oneTimeFile: `/etc/knockd/${name}` } : {}),
      ...(spec.kind === 'time' ? { timeSequence: { secret: new Uint8Array(16), length: spec.length, portMin: 1, portMax: 3, periodSeconds: 1, protocols: 'mixed' as const } } : {}),
    });
    const lines: OneTimeLine[] = spec.lines.map((steps, i) => ({ line: i + 1, steps }));
    return { door, lines };
  });

const opArb = fc.oneof(
  { weight: 12, arbitrary: fc.record({ op: fc.constant('knock' as const), source: fc.constantFrom('10.0.0.2', '10.0.0.3', '10.0.0.4', 'fd00::2'), step: stepArb, ack: fc.boolean(), syn: fc.boolean(), toOther: fc.boolean(), dt: fc.integer({ min: 0, max: 700 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 2000 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reload' as const), order: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 6 }), change: fc.option(fc.record({ which: fc.nat(), steps: sequenceArb })) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('lines' as const), which: fc.nat(), lines: fc.array(sequenceArb, { maxLength: 3 }) }) },
);

function sameRules(a: Door, b: Door): boolean {
  return a === b || matchingFingerprint(a) === matchingFingerprint(b);
}

test('the indexed matcher emits exactly what the visit-every-door model emits (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.nat(), { minLength: 1, maxLength: 6 }).chain((seeds) => fc.tuple(...seeds.map((_, i) => doorArb(`d${i}`)))),
      fc.array(opArb, { maxLength: 120 }),
      fc.integer({ min: 1, max: 6 }),
      fc.boolean(),
      (specs, script, cap, reuse) => {
        let doors = specs.map((spec) => spec.door);
        const book = new SequenceBook(deriver);
        const got: string[] = [];
        const want: string[] = [];
        // A reused action object must be read before the handler returns: describing it does that.
        const matcher = new Matcher(doors, { maxAttempts: cap, sequences: book, reuseActions: reuse, onAction: (a: MatcherAction) => got.push(describeAction(a)) });
        const model = new ReferenceMatcher(doors, cap, (a) => want.push(describeAction(a)), deriver);
        for (const { door, lines } of specs) {
          if (door.oneTimeFile === undefined) continue;
          book.setOneTimeLines(door.name, lines);
          model.setOneTimeLines(door.name, lines);
        }
        let at = 1000;
        for (const entry of script) {
          if (entry.op === 'knock') {
            at += entry.dt;
            const flags = (entry.syn ? TcpFlag.SYN : 0) | (entry.ack ? TcpFlag.ACK : 0);
            const event: KnockEvent = { ...knock(entry.source, `${entry.step.port}:${entry.step.protocol}`, at, flags), ...(entry.toOther ? { destination: '10.0.0.9' } : {}) };
            matcher.feed(event);
            model.feed(event);
          } else if (entry.op === 'tick') {
            at += entry.dt;
            matcher.tick(at);
            model.tick(at);
          } else if (entry.op === 'reload') {
            const next = [...new Set(entry.order.map((i) => i % doors.length))].map((i) => doors[i]!);
            if (entry.change && next.length > 0) {
              const which = entry.change.which % next.length;
              const door = next[which]!;
              if (door.steps.length > 0) next[which] = { ...door, steps: entry.change.steps };
              else next[which] = { ...door };
            }
            matcher.replaceDoors(next);
            model.replaceDoors(next, sameRules);
            doors = next;
          } else {
            const door = doors[entry.which % doors.length]!;
            if (door.oneTimeFile === undefined) continue;
            const lines = entry.lines.map((steps, i) => ({ line: i + 10, steps }));
            book.setOneTimeLines(door.name, lines);
            model.setOneTimeLines(door.name, lines);
          }
          assert.deepEqual(got, want);
          assert.equal(matcher.attemptCount, model.attemptCount);
        }
      },
    ),
    { numRuns: 2000 },
  );
});

test('hundreds of doors sharing a first knock: same actions as the model, the source visits only its own', () => {
  const doors = Array.from({ length: 300 }, (_, i) => makeDoor({ name: `d${i}`, sequence: `7000,${8000 + i},9000` }));
  const got: string[] = [];
  const want: string[] = [];
  const matcher = new Matcher(doors, { maxAttempts: 1000, onAction: (a) => got.push(describeAction(a)) });
  const model = new ReferenceMatcher(doors, 1000, (a) => want.push(describeAction(a)), deriver);
  const events = [knock('10.0.0.2', '7000', 0), knock('10.0.0.3', '7000', 1), knock('10.0.0.2', '8150', 2), knock('10.0.0.4', '7000', 3), knock('10.0.0.2', '9000', 4), knock('10.0.0.3', '8299', 5)];
  for (const event of events) {
    matcher.feed(event);
    model.feed(event);
  }
  assert.deepEqual(got, want);
  assert.ok(got.includes('open:d150:10.0.0.2:4:4:fixed'));
  assert.equal(matcher.attemptCount, model.attemptCount);
});
