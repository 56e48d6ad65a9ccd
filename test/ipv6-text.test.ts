import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ipv6Text } from '../src/decode/ipv6-text.js';
import { formatIPv6 } from '../src/core/address.js';

/** Groups biased to zero (runs to compress, ties) and to 0xffff (IPv4-mapped addresses). */
const groupArb = fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xff }));

test('ipv6Text writes what formatIPv6 writes (property)', () => {
  fc.assert(
    fc.property(fc.array(groupArb, { minLength: 8, maxLength: 8 }), fc.nat({ max: 5 }), (values, offset) => {
      const bytes = new Uint8Array(16 + offset);
      values.forEach((group, i) => {
        bytes[offset + 2 * i] = group >> 8;
        bytes[offset + 2 * i + 1] = group & 0xff;
      });
      assert.equal(ipv6Text(bytes, offset), formatIPv6(bytes, offset));
    }),
    { numRuns: 20000 },
  );
});

test('ipv6Text on the RFC 5952 cases', () => {
  const cases: Array<[number[], string]> = [
    [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [[0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    [[0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], '2001:db8::1:0:0:1'],
    [[0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], '2001:db8:0:1:1:1:1:1'],
    [[0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0280], '::ffff:192.0.2.128'],
    [[0xfd00, 0, 0, 0, 0, 0, 0, 0], 'fd00::'],
  ];
  for (const [groups, expected] of cases) {
    const bytes = new Uint8Array(16);
    groups.forEach((group, i) => {
      bytes[2 * i] = group >> 8;
      bytes[2 * i + 1] = group & 0xff;
    });
    assert.equal(ipv6Text(bytes, 0), expected);
  }
});
