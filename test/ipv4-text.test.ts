import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ipv4Text } from '../src/decode/ipv4-text.js';
import { formatIPv4 } from '../src/core/address.js';

test('ipv4Text writes what formatIPv4 writes, at any offset (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 12 }), fc.nat(), (bytes, pick) => {
      const offset = pick % (bytes.length - 3);
      assert.equal(ipv4Text(bytes, offset), formatIPv4(bytes, offset));
    }),
    { numRuns: 5000 },
  );
});

test('ipv4Text at every length from 7 to 15 characters', () => {
  for (const quad of [[0, 0, 0, 0], [1, 2, 3, 45], [10, 99, 0, 255], [100, 200, 10, 1], [255, 255, 255, 255], [9, 10, 99, 100]]) {
    assert.equal(ipv4Text(Uint8Array.from(quad), 0), quad.join('.'));
  }
});
