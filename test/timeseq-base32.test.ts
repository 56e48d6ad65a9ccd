import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isNfknockError } from '../src/core/errors.js';
import { decodeBase32, encodeBase32 } from '../src/timeseq/base32.js';
import { formatSecretText, parseSecretText } from '../src/timeseq/secret.js';

const RFC4648: [string, string][] = [
  ['', ''],
  ['f', 'MY======'],
  ['fo', 'MZXQ===='],
  ['foo', 'MZXW6==='],
  ['foob', 'MZXW6YQ='],
  ['fooba', 'MZXW6YTB'],
  ['foobar', 'MZXW6YTBOI======'],
];

test('RFC 4648 section 10 base32 test vectors', () => {
  for (const [plain, encoded] of RFC4648) {
    assert.equal(encodeBase32(Buffer.from(plain)), encoded);
    assert.equal(Buffer.from(decodeBase32(encoded)).toString(), plain);
    assert.equal(Buffer.from(decodeBase32(encoded.replace(/=/g, ''))).toString(), plain, 'padding is optional');
    assert.equal(Buffer.from(decodeBase32(encoded.toLowerCase())).toString(), plain, 'case-insensitive');
  }
  assert.equal(encodeBase32(Buffer.from('foobar'), { padding: false }), 'MZXW6YTBOI');
});

test('text that is not exactly the base32 of some bytes is refused', () => {
  for (const bad of ['MZXW6YT1', 'MZXW6YT0', 'MZXW6YT8', 'MZ=XW6YTB', 'MY=', 'MY=====', 'M', 'MZX', 'MZXW6Y', '========', 'MZ XW', 'MZ-XW', 'MZ']) {
    assert.throws(() => decodeBase32(bad), (e: unknown) => isNfknockError(e) && e.code === 'NFK_USAGE', bad);
  }
  // "MZ" would be 10 bits of which the last 2 must be zero: "MY" is 'f', "MZ" is not canonical.
  assert.equal(Buffer.from(decodeBase32('MY')).toString(), 'f');
});

test('decode(encode(bytes)) is the identity, with or without padding, in either case (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), fc.boolean(), (data, padding, lower) => {
      let text = encodeBase32(data, { padding });
      if (lower) text = text.toLowerCase();
      assert.deepEqual(Buffer.from(decodeBase32(text)), Buffer.from(data));
    }),
    { numRuns: 2000 },
  );
});

test('any text either throws NfknockError or decodes to bytes that encode back to it (property)', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567=abz01 '.split('')), maxLength: 24 }), (text) => {
      let decoded: Uint8Array;
      try {
        decoded = decodeBase32(text);
      } catch (error) {
        assert.ok(isNfknockError(error), String(error));
        return;
      }
      const canonical = text.toUpperCase();
      assert.equal(encodeBase32(decoded, { padding: canonical.includes('=') }), canonical);
    }),
    { numRuns: 5000 },
  );
});

test('secret text: whitespace ignored, at least 16 bytes, the secret never quoted in errors', () => {
  const secret = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
  const text = formatSecretText(secret);
  assert.equal(text.length, 52);
  assert.ok(!text.includes('='));
  assert.deepEqual(parseSecretText(`${text}\n`, 'f'), secret);
  assert.deepEqual(parseSecretText(text.toLowerCase().replace(/(.{4})/g, '$1 '), 'f'), secret);
  assert.throws(() => parseSecretText('  \n', '/etc/s'), /\/etc\/s: the secret is empty/);
  assert.throws(() => parseSecretText(formatSecretText(new Uint8Array(15)), 'f'), /15 bytes; at least 16/);
  const typo = `${text.slice(0, 10)}1${text.slice(11)}`;
  assert.throws(
    () => parseSecretText(typo, '$NFK'),
    (e: unknown) => isNfknockError(e) && e.code === 'NFK_USAGE' && e.message.startsWith('$NFK: invalid base32') && !e.message.includes(text.slice(0, 10)),
  );
});
