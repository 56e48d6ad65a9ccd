import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { integerFlag, parseWholeNumber } from '../src/core/whole-number.js';
import { isNfknockError } from '../src/core/errors.js';

const usage = (text: string) => (error: unknown) => isNfknockError(error) && error.code === 'NFK_USAGE' && error.location?.text === text;

test('every whole number in range parses back to itself, blanks around it ignored', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 65535 }), fc.constantFrom('', ' ', '\t'), (n, blank) => {
      assert.equal(parseWholeNumber(`${blank}${n}${blank}`, { max: 65535, message: 'x' }), n);
    }),
  );
});

test('signs, fractions, exponents, hex, empty and out-of-range text are usage errors quoting the text', () => {
  for (const bad of ['', ' ', '-1', '+1', '1.5', '1e3', '0x10', '7e', 'NaN', 'Infinity', '65536', '1 2', '１２']) {
    assert.throws(() => parseWholeNumber(bad, { max: 65535, message: 'port please' }), usage(bad), bad);
  }
  assert.throws(() => integerFlag('0', '--max-attempts', 1, 10), /--max-attempts takes a whole number from 1 to 10/);
  assert.equal(integerFlag('10', '--max-attempts', 1, 10), 10);
});
