import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isNfknockError } from '../src/core/errors.js';
import type { ClientHost } from '../src/client/client-config.js';
import { familiesFrom, planKnock, secondsLeftInStep } from '../src/client/plan.js';
import { timeStepAt } from '../src/timeseq/derive.js';

const usage = (e: unknown) => isNfknockError(e) && e.code === 'NFK_USAGE';
const SECRET = new Uint8Array(32).fill(7);

const fixedAlias: ClientHost = {
  name: 'office',
  address: 'gw.example.org',
  steps: [{ port: 7000, protocol: 'udp' }],
  door: 'office',
  delayMs: 100,
  family: 'both',
  line: 3,
  keyLines: {},
};
const timedAlias: ClientHost = {
  name: 'rot',
  address: '10.0.0.1',
  steps: [],
  door: 'ssh',
  timeSequence: { length: 3, portMin: 41000, portMax: 41999, periodSeconds: 30, protocols: 'udp', secretFile: '/s', secret: SECRET },
  line: 9,
  keyLines: {},
};

test('-46, -4 -6 and --all-families mean both families; one flag means one family; none means the first answer', () => {
  assert.equal(familiesFrom({ ipv4: true, ipv6: true }), 'both');
  assert.equal(familiesFrom({ allFamilies: true }), 'both');
  assert.equal(familiesFrom({ allFamilies: true, ipv4: true, ipv6: true }), 'both');
  assert.equal(familiesFrom({ ipv4: true }), 4);
  assert.equal(familiesFrom({ ipv6: true }), 6);
  assert.equal(familiesFrom({}), undefined);
  assert.throws(() => familiesFrom({ allFamilies: true, ipv6: true }), usage);
});

test('an alias gives the address, sequence, delay and family; flags override delay and family only', () => {
  assert.deepEqual(planKnock('office', [], {}, fixedAlias), {
    host: 'gw.example.org',
    families: 'both',
    delayMs: 100,
    sequence: { kind: 'fixed', steps: [{ port: 7000, protocol: 'udp' }] },
    overriddenByUdp: [],
  });
  const overridden = planKnock('office', [], { delay: 5, ipv4: true }, fixedAlias);
  assert.equal(overridden.delayMs, 5);
  assert.equal(overridden.families, 4);
  const timed = planKnock('rot', [], {}, timedAlias);
  assert.deepEqual(timed.sequence, {
    kind: 'time',
    door: 'ssh',
    spec: { length: 3, portMin: 41000, portMax: 41999, periodSeconds: 30, protocols: 'udp' },
    secret: { kind: 'loaded', bytes: SECRET },
  });
  assert.equal(timed.families, 'first');
  for (const flags of [{ udp: true }, { secret: '/x' }, { secretEnv: 'X' }, { door: 'd' }, { period: 30 }, { length: 3 }, { protocols: 'tcp' as const }]) {
    assert.throws(() => planKnock('office', [], flags, fixedAlias), usage, JSON.stringify(flags));
  }
  assert.throws(() => planKnock('office', ['7000'], {}, fixedAlias), /remove 7000/);
});

test('without an alias the knock(1) arguments and the time-based flags plan as before', () => {
  assert.deepEqual(planKnock('h', ['1', '2:udp'], {}).sequence, {
    kind: 'fixed',
    steps: [
      { port: 1, protocol: 'tcp' },
      { port: 2, protocol: 'udp' },
    ],
  });
  assert.deepEqual(planKnock('h', ['1:tcp'], { udp: true }).overriddenByUdp, ['1:tcp']);
  const timed = planKnock('h', [], { secret: '/f', door: 'ssh', length: 6 });
  assert.deepEqual(timed.sequence.kind === 'time' && timed.sequence.secret, { kind: 'file', path: '/f' });
  assert.throws(() => planKnock('h', [], {}), /or an alias of the client config/);
});

test('property: seconds left in a step are 1..period and end exactly at the next step', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 42 }), fc.integer({ min: 5, max: 86_400 }), (at, period) => {
      const step = timeStepAt(at, period);
      const left = secondsLeftInStep(at, period, step);
      assert.ok(left >= 1 && left <= period, `${left} of ${period}`);
      assert.equal(timeStepAt(at + left * 1000, period), step + 1);
      assert.equal(timeStepAt(at + (left - 1) * 1000, period), step, 'not a second too early');
    }),
    { numRuns: 5000 },
  );
});

test('fuzz: planKnock either plans a knock or refuses with a usage error', () => {
  const flags = fc.record(
    {
      udp: fc.boolean(),
      delay: fc.integer({ min: 0, max: 1000 }),
      ipv4: fc.boolean(),
      ipv6: fc.boolean(),
      allFamilies: fc.boolean(),
      secret: fc.constant('/s'),
      secretEnv: fc.constant('S'),
      door: fc.string({ maxLength: 5 }),
      period: fc.integer({ min: 0, max: 100_000 }),
      length: fc.integer({ min: 0, max: 100 }),
      protocols: fc.constantFrom('tcp' as const, 'udp' as const, 'mixed' as const),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 }), flags, fc.constantFrom(undefined, fixedAlias, timedAlias), (ports, f, alias) => {
      try {
        const plan = planKnock('h', ports, f, alias);
        assert.ok(plan.delayMs >= 0);
        if (plan.sequence.kind === 'fixed') assert.ok(plan.sequence.steps.length > 0);
      } catch (error) {
        assert.ok(usage(error), String(error));
      }
    }),
    { numRuns: 5000 },
  );
});
