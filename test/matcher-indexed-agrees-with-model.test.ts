import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Matcher, type MatcherAction } from '../src/matcher/matcher.js';
import { SequenceBook, type OneTimeLine, type TimeSequenceDeriver } from '../src/matcher/sequences.js';
import { matchingFingerprint } from '../src/matcher/fingerprint.js';
import { TcpFlag, type Door, type KnockEvent, type KnockStep, type Protocol } from '../src/core/types.js';
import { describeAction, describePerDoor, ReferenceMatcher } from './helpers/reference-matcher.js';
import { knock, makeDoor } from './helpers/knock-fixtures.js';

/**
 * The indexed matcher (doors by first knock, each source's own attempts, first stages shared by the
 * doors of a group) against the straightforward model that visits every door for every packet. Doors
 * that share no first stage: same actions, in the same order, same attempt count, under any cap.
 * Doors that do: at every packet, tick and reload, each door's actions as in the model (one shared
 * action stands for several doors, in its own order), and as many (source, door) attempts.
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

/**
 * A door of any kind. `timeout` decides sharing: doors with the same first knock, flags, Target and
 * timeout share their first stage (one attempt, one action naming them all).
 */
const doorArb = (name: string, timeout: fc.Arbitrary<number>, sequence: fc.Arbitrary<KnockStep[]> = sequenceArb) =>
  fc.record({
    kind: fc.constantFrom('fixed', 'fixed', 'one-time', 'time'),
    steps: sequence,
    lines: fc.array(sequenceArb, { maxLength: 3 }),
    syn: fc.boolean(),
    noAck: fc.boolean(),
    target: fc.boolean(),
    timeout,
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

/** Doors whose timeouts all differ: no two share a first stage, so every attempt is one door's, as in the model. */
const aloneDoorsArb = fc.array(fc.nat(), { minLength: 1, maxLength: 6 }).chain((seeds) => fc.tuple(...seeds.map((_, i) => doorArb(`d${i}`, fc.constantFrom(800 + i, 3000 + i)))));

/** Many doors, mostly fixed, on two first knocks, two timeouts and few flags: groups of every size, with members that differ after the first step. */
const sharingDoorsArb = fc.array(fc.nat(), { minLength: 2, maxLength: 14 }).chain((seeds) =>
  fc.tuple(
    ...seeds.map((_, i) =>
      doorArb(
        `d${i}`,
        fc.constantFrom(800, 3000),
        fc.tuple(fc.constantFrom(PORTS[0]!, PORTS[2]!), fc.array(stepArb, { minLength: 0, maxLength: 3 })).map(([first, rest]) => [first, ...rest]),
      ),
    ),
  ),
);

const opArb = fc.oneof(
  { weight: 12, arbitrary: fc.record({ op: fc.constant('knock' as const), source: fc.constantFrom('10.0.0.2', '10.0.0.3', '10.0.0.4', 'fd00::2'), step: stepArb, ack: fc.boolean(), syn: fc.boolean(), toOther: fc.boolean(), dt: fc.integer({ min: 0, max: 700 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 2000 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reload' as const), order: fc.array(fc.integer({ min: 0, max: 13 }), { minLength: 1, maxLength: 14 }), change: fc.option(fc.record({ which: fc.nat(), steps: sequenceArb })) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('lines' as const), which: fc.nat(), lines: fc.array(sequenceArb, { maxLength: 3 }) }) },
);

type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;
type Spec = { door: Door; lines: OneTimeLine[] };

function sameRules(a: Door, b: Door): boolean {
  return a === b || matchingFingerprint(a) === matchingFingerprint(b);
}

/**
 * Runs a script through the matcher and the model; `check` compares what each op made them emit
 * (one string per door an action stands for) and may return false to stop comparing.
 */
function runBoth(specs: Spec[], script: Op[], cap: number, reuse: boolean, check: (got: string[], want: string[], matcher: Matcher, model: ReferenceMatcher) => boolean): void {
  let doors = specs.map((spec) => spec.door);
  const book = new SequenceBook(deriver);
  let got: string[] = [];
  let want: string[] = [];
  // A reused action object must be read before the handler returns: describing it does that.
  const matcher = new Matcher(doors, { maxAttempts: cap, sequences: book, reuseActions: reuse, onAction: (a: MatcherAction) => got.push(...describePerDoor(a)) });
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
      if (door.oneTimeFile !== undefined) {
        const lines = entry.lines.map((steps, i) => ({ line: i + 10, steps }));
        book.setOneTimeLines(door.name, lines);
        model.setOneTimeLines(door.name, lines);
      }
    }
    const going = check(got, want, matcher, model);
    got = [];
    want = [];
    if (!going) return;
  }
}

test('the indexed matcher emits exactly what the visit-every-door model emits, in order, under any cap (property)', () => {
  fc.assert(
    fc.property(aloneDoorsArb, fc.array(opArb, { maxLength: 120 }), fc.integer({ min: 1, max: 6 }), fc.boolean(), (specs, script, cap, reuse) => {
      runBoth(specs, script, cap, reuse, (got, want, matcher, model) => {
        assert.deepEqual(got, want);
        assert.equal(matcher.attemptCount, model.attemptCount);
        return true;
      });
    }),
    { numRuns: 2000 },
  );
});

test('doors sharing their first stage: each door sees, at every packet, tick and reload, what it sees alone in the model (property)', () => {
  fc.assert(
    fc.property(sharingDoorsArb, fc.array(opArb, { maxLength: 120 }), fc.boolean(), (specs, script, reuse) => {
      // The cap never binds here: what it counts differs (a shared attempt counts once).
      runBoth(specs, script, 100_000, reuse, (got, want, matcher, model) => {
        assert.deepEqual(got.slice().sort(), want.slice().sort());
        assert.equal(matcher.doorAttemptCount, model.attemptCount);
        assert.ok(matcher.attemptCount <= model.attemptCount);
        return true;
      });
    }),
    { numRuns: 1500 },
  );
});

test('doors sharing their first stage under a small cap: as the model until the first eviction, never over the cap (property)', () => {
  fc.assert(
    fc.property(sharingDoorsArb, fc.array(opArb, { maxLength: 120 }), fc.integer({ min: 1, max: 6 }), fc.boolean(), (specs, script, cap, reuse) => {
      let comparing = true;
      runBoth(specs, script, cap, reuse, (got, want, matcher, model) => {
        assert.ok(matcher.attemptCount <= cap);
        assert.ok(matcher.doorAttemptCount >= matcher.attemptCount);
        if (comparing && (got.some((a) => a.startsWith('evict:')) || want.some((a) => a.startsWith('evict:')))) comparing = false;
        if (comparing) {
          assert.deepEqual(got.slice().sort(), want.slice().sort());
          assert.equal(matcher.doorAttemptCount, model.attemptCount);
        }
        return true;
      });
    }),
    { numRuns: 1500 },
  );
});

test('hundreds of doors sharing a first knock: one shared attempt and one action per first knock, each door as in the model', () => {
  const doors = Array.from({ length: 300 }, (_, i) => makeDoor({ name: `d${i}`, sequence: `7000,${8000 + i},9000` }));
  const actions: MatcherAction[] = [];
  const want: string[] = [];
  const matcher = new Matcher(doors, { maxAttempts: 1000, onAction: (a) => actions.push(a) });
  const model = new ReferenceMatcher(doors, 1000, (a) => want.push(describeAction(a)), deriver);
  const events = [knock('10.0.0.2', '7000', 0), knock('10.0.0.3', '7000', 1), knock('10.0.0.2', '8150', 2), knock('10.0.0.4', '7000', 3), knock('10.0.0.2', '9000', 4), knock('10.0.0.3', '8299', 5)];
  const perEvent: string[][] = [];
  for (const event of events) {
    const from = actions.length;
    want.length = 0;
    matcher.feed(event);
    model.feed(event);
    const got = actions.slice(from).flatMap(describePerDoor);
    assert.deepEqual(got.slice().sort(), want.slice().sort());
    perEvent.push(actions.slice(from).map((a) => `${a.kind}:${'doors' in a ? a.doors.length : 1}`));
  }
  assert.deepEqual(perEvent, [['stage:300'], ['stage:300'], ['broken:299', 'stage:1'], ['stage:300'], ['open:1'], ['broken:299', 'stage:1']]);
  assert.ok(actions.flatMap(describePerDoor).includes('open:d150:10.0.0.2:4:4:fixed'));
  // 10.0.0.3 at d299's stage 2, 10.0.0.4's first stage shared by all 300.
  assert.equal(matcher.attemptCount, 2);
  assert.equal(matcher.doorAttemptCount, model.attemptCount);
  assert.equal(model.attemptCount, 301);
});

test('a shared first stage some doors are not in: those begin on a repeat of the first knock, as alone', () => {
  const a = makeDoor({ name: 'a', sequence: '7000,8000,7000,9000' });
  const b = makeDoor({ name: 'b', sequence: '7000,8001,9000' });
  const c = makeDoor({ name: 'c', sequence: '7000,8002,9000' });
  const got: string[][] = [];
  const want: string[][] = [];
  const matcher = new Matcher([a, b], { maxAttempts: 1000, onAction: (action) => got.at(-1)!.push(...describePerDoor(action)) });
  const model = new ReferenceMatcher([a, b], 1000, (action) => want.at(-1)!.push(describeAction(action)), deriver);
  const step = (run: (on: Matcher | ReferenceMatcher) => void) => {
    got.push([]);
    want.push([]);
    run(matcher);
    run(model);
  };
  step((on) => on.feed(knock('10.0.0.2', '7000', 0)));
  step((on) => on.feed(knock('10.0.0.2', '8000', 1)));
  // a (stage 3 of its own) is not in the new shared first stage, which holds b alone.
  step((on) => on.feed(knock('10.0.0.2', '7000', 100)));
  step((on) => on.tick(5001));
  // a's own attempt expired; b's shared one did not: a repeat of 7000 begins a again.
  step((on) => on.feed(knock('10.0.0.2', '7000', 5050)));
  // c joins the group by a reload while b's shared first stage is in progress: not in it.
  step((on) => (on instanceof Matcher ? on.replaceDoors([a, b, c]) : on.replaceDoors([a, b, c], (x, y) => x === y)));
  step((on) => on.feed(knock('10.0.0.2', '7000', 5060)));
  step((on) => on.feed(knock('10.0.0.2', '8002', 5070)));
  assert.deepEqual(
    got.map((actions) => actions.slice().sort()),
    want.map((actions) => actions.slice().sort()),
  );
  assert.deepEqual(want, [
    ['stage:a:10.0.0.2:4:0:1', 'stage:b:10.0.0.2:4:0:1'],
    ['stage:a:10.0.0.2:4:1:2', 'broken:b:10.0.0.2:4:1:8000/tcp'],
    ['stage:a:10.0.0.2:4:100:3', 'stage:b:10.0.0.2:4:100:1'],
    ['expire:a:10.0.0.2:4:5001:3'],
    ['stage:a:10.0.0.2:4:5050:1'],
    [],
    ['stage:c:10.0.0.2:4:5060:1'],
    ['broken:a:10.0.0.2:4:5070:8002/tcp', 'broken:b:10.0.0.2:4:5070:8002/tcp', 'stage:c:10.0.0.2:4:5070:2'],
  ]);
  assert.equal(matcher.doorAttemptCount, model.attemptCount);
});

test("a door whose own attempt takes a repeat of its group's first knock does not begin again in the group", () => {
  const doors = [makeDoor({ name: 'one', sequence: '1' }), makeDoor({ name: 'loop', sequence: '1,2:udp,1' })];
  const got: string[] = [];
  const want: string[] = [];
  const matcher = new Matcher(doors, { maxAttempts: 100, onAction: (a) => got.push(...describePerDoor(a)) });
  const model = new ReferenceMatcher(doors, 100, (a) => want.push(describeAction(a)), deriver);
  for (const event of [knock('10.0.0.2', '1', 0), knock('10.0.0.2', '2:udp', 1), knock('10.0.0.2', '1', 2)]) {
    matcher.feed(event);
    model.feed(event);
  }
  assert.deepEqual(got, want);
  assert.deepEqual(want.slice(-2), ['open:one:10.0.0.2:4:2:fixed', 'open:loop:10.0.0.2:4:2:fixed']);
  assert.equal(matcher.attemptCount, 0);
});
