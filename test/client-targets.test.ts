import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isNfknockError } from '../src/core/errors.js';
import { forceUdp, parseDelay, parseKnockTarget, parseKnockTargets } from '../src/client/targets.js';

const usageError = (e: unknown) => isNfknockError(e) && e.code === 'NFK_USAGE';

test('knock(1) syntax: PORT, PORT:tcp, PORT:udp, default protocol for bare ports', () => {
  assert.deepEqual(parseKnockTargets(['123:tcp', '456:udp', '789'], 'tcp'), [
    { port: 123, protocol: 'tcp' },
    { port: 456, protocol: 'udp' },
    { port: 789, protocol: 'tcp' },
  ]);
  assert.deepEqual(parseKnockTargets(['8284', '4721:tcp'], 'udp'), [
    { port: 8284, protocol: 'udp' },
    { port: 4721, protocol: 'tcp' },
  ]);
  assert.deepEqual(parseKnockTarget('65535:UDP'), { port: 65535, protocol: 'udp' });
  assert.deepEqual(parseKnockTarget('07000'), { port: 7000, protocol: undefined });
});

test('-u sends every knock as UDP, like knock.c, and reports the :tcp ones it overrode', () => {
  assert.deepEqual(forceUdp(['1:tcp', '2', '3:udp']), {
    steps: [
      { port: 1, protocol: 'udp' },
      { port: 2, protocol: 'udp' },
      { port: 3, protocol: 'udp' },
    ],
    overridden: ['1:tcp'],
  });
});

test('bad ports, protocols and missing arguments are usage errors that quote the argument', () => {
  for (const bad of ['0', '70000', '65536', '123456', 'abc', 'ssh', '-1', '+7', '7000:sctp', '7000:', ':tcp', '', '7000:tcp:udp', ' 7000', '7e3', '0x10', '7000 ']) {
    assert.throws(() => parseKnockTargets([bad], 'tcp'), (e: unknown) => usageError(e) && (e as { location?: { text?: string } }).location?.text === bad, bad);
  }
  assert.throws(() => parseKnockTargets([], 'tcp'), usageError);
  assert.throws(() => forceUdp([]), usageError);
});

test('delay: whole milliseconds only', () => {
  assert.equal(parseDelay('0'), 0);
  assert.equal(parseDelay('250'), 250);
  for (const bad of ['-1', '1.5', 'abc', '', '1e3']) assert.throws(() => parseDelay(bad), usageError, bad);
});

test('every valid target parses back to itself; every other string is a usage error (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 65535 }), fc.constantFrom('', ':tcp', ':udp', ':TCP', ':Udp'), fc.constantFrom('tcp' as const, 'udp' as const), (port, suffix, fallback) => {
      const [step] = parseKnockTargets([`${port}${suffix}`], fallback);
      assert.deepEqual(step, { port, protocol: suffix === '' ? fallback : (suffix.slice(1).toLowerCase() as 'tcp' | 'udp') });
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 12 }), (text) => {
      let parsed;
      try {
        parsed = parseKnockTarget(text);
      } catch (error) {
        assert.ok(usageError(error), String(error));
        return;
      }
      assert.match(text, /^\d{1,5}(:(tcp|udp))?$/i);
      assert.ok(parsed.port >= 1 && parsed.port <= 65535);
    }),
    { numRuns: 5000 },
  );
});
