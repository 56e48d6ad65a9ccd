import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { asciiLower, cTrim, forEachLine, splitLines } from '../src/config/text.js';

const C_SPACES = new Set([' ', '\t', '\n', '\v', '\f', '\r']);

/** The definitions, written the plain way: the fast versions must agree with them on any text. */
function referenceTrim(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && C_SPACES.has(text[start] as string)) start++;
  while (end > start && C_SPACES.has(text[end - 1] as string)) end--;
  return text.slice(start, end);
}

const referenceLower = (text: string) => text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));

test('cTrim trims exactly C isspace() and asciiLower lowers exactly A-Z (property)', () => {
  const piece = fc.constantFrom(' ', '\t', '\n', '\v', '\f', '\r', '\u00a0', '\u2028', '\u0008', '\u000e', 'a', 'Z', 'K', '\u212a', 'é', 'É', '7', '=', '[');
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.array(piece, { maxLength: 12 }).map((parts) => parts.join(''))), (text) => {
      assert.equal(cTrim(text), referenceTrim(text));
      assert.equal(asciiLower(text), referenceLower(text));
    }),
    { numRuns: 3000 },
  );
  assert.equal(cTrim(' \t\v\f\r\n'), '');
  assert.equal(cTrim('\u00a0x\u00a0'), '\u00a0x\u00a0');
  assert.equal(asciiLower('\u212aEY'), '\u212aey');
});

test('forEachLine visits exactly the lines splitLines gives, numbered from 1 (property)', () => {
  const piece = fc.constantFrom('\n', '\r\n', '\uFEFF', 'a', ' ', '', '#x');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 12 }).map((parts) => parts.join('')), (text) => {
      const visited: [string, number][] = [];
      forEachLine(text, (raw, line) => visited.push([raw, line]));
      assert.deepEqual(visited, splitLines(text).map((raw, i) => [raw, i + 1]));
    }),
    { numRuns: 2000 },
  );
});
