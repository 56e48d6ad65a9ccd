import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseKnockLine, parseLogLine } from '../src/decode/log-line.js';
import { realLines } from './helpers/logline-fixtures.js';

test('parseKnockLine is parseLogLine with the time in the event (property, real lines mutated)', () => {
  const lines = Object.values(realLines);
  fc.assert(
    fc.property(fc.constantFrom(...lines), fc.nat({ max: 400 }), fc.nat({ max: 400 }), fc.string({ maxLength: 3 }), fc.integer(), (line, cut, at, insert, time) => {
      const mutated = line.slice(0, at) + insert + line.slice(at, at + 400 - cut);
      const plain = parseLogLine(mutated, 'portknock');
      const timed = parseKnockLine(mutated, 'portknock', time);
      if (plain.ok) assert.deepEqual(timed, { ok: true, value: { ...plain.value, at: time } });
      else assert.deepEqual(timed, plain);
    }),
    { numRuns: 20_000 },
  );
});
