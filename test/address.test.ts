import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalAddress, formatIPv4, formatIPv6 } from '../src/core/address.js';

test('IPv6 literals are compressed per RFC 5952', () => {
  assert.equal(canonicalAddress('FD00:0000:0000:0000:0000:0000:0000:0002')?.address, 'fd00::2');
  assert.equal(canonicalAddress('2001:db8:0:0:1:0:0:1')?.address, '2001:db8::1:0:0:1');
  assert.equal(canonicalAddress('::')?.address, '::');
  assert.equal(canonicalAddress('::1')?.address, '::1');
  assert.equal(canonicalAddress('::ffff:10.0.0.1')?.address, '::ffff:10.0.0.1');
  assert.equal(canonicalAddress('2001:db8:1:1:1:1:0:1')?.address, '2001:db8:1:1:1:1:0:1');
});

test('non-addresses and scoped addresses are refused', () => {
  for (const bad of ['', '10.0.0', '10.0.0.256', '010.0.0.1', 'fe80::1%eth0', '1::2::3', 'x', '10.0.0.1;rm -rf /']) {
    assert.equal(canonicalAddress(bad), undefined, bad);
  }
});

test('IPv4 is kept as the dotted quad', () => {
  assert.deepEqual(canonicalAddress('10.0.0.2'), { address: '10.0.0.2', family: 4 });
});

test('formatted bytes parse back to the same bytes (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
      const text = formatIPv6(bytes, 0);
      const again = canonicalAddress(text);
      assert.equal(again?.address, text);
      assert.equal(again?.family, 6);
    }),
    { numRuns: 20000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (bytes) => {
      const text = formatIPv4(bytes, 0);
      assert.equal(canonicalAddress(text)?.address, text);
    }),
  );
});

test('the uncompressed spelling canonicalises like the WHATWG URL serializer (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
      const full = Array.from({ length: 8 }, (_, i) => (((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0)).toString(16).padStart(4, '0')).join(':');
      const ours = canonicalAddress(full)?.address;
      const whatwg = new URL(`http://[${full}]/`).hostname.slice(1, -1);
      if (ours?.startsWith('::ffff:') && ours.includes('.')) return; // URL prints mapped addresses in hex
      assert.equal(ours, whatwg);
    }),
    { numRuns: 20000 },
  );
});
