import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkOneTimeSequences, parseOneTimeFile, parseOneTimeSequences } from '../src/config/one-time.js';
import { ConfigError } from '../src/config/problems.js';
import { formatSequence } from '../src/config/sequence.js';
import { ErrorCodes } from '../src/core/errors.js';

const FILE = '/etc/knockd/smtp_sequences';

test("knockd's format: one sequence per line, '#' lines used or commented, blank lines skipped", () => {
  const text = [' 2222:udp,3333,4444:udp', '#111,222,333', '', '  # used', '\t5000:TCP , 6000:udp  ', '#'].join('\n');
  assert.deepEqual(parseOneTimeSequences(text, FILE), {
    lines: [
      { line: 1, steps: [{ port: 2222, protocol: 'udp' }, { port: 3333, protocol: 'tcp' }, { port: 4444, protocol: 'udp' }] },
      { line: 5, steps: [{ port: 5000, protocol: 'tcp' }, { port: 6000, protocol: 'udp' }] },
    ],
  });
});

test('a used-up file has no sequences left (not an error: the door just cannot open)', () => {
  assert.deepEqual(parseOneTimeSequences('#000,8000\n#000,9000\n', FILE), { lines: [] });
  assert.deepEqual(parseOneTimeSequences('', FILE), { lines: [] });
});

test('bad lines are refused with their line numbers (knockd skips them silently)', () => {
  try {
    parseOneTimeSequences(' 1,2,3\n 7000,notaport\n\n 1:sctp\n 4,5,\n', FILE);
    assert.fail('expected a refusal');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.code, ErrorCodes.CONFIG_INVALID);
    assert.deepEqual(
      error.problems.map((p) => [p.file, p.line, p.text]),
      [
        [FILE, 2, 'notaport'],
        [FILE, 4, '1:sctp'],
        [FILE, 5, '4,5,'],
      ],
    );
  }
});

test('formatted sequences parse back to the same steps (property)', () => {
  const step = fc.record({ port: fc.integer({ min: 1, max: 65535 }), protocol: fc.constantFrom('tcp' as const, 'udp' as const) });
  fc.assert(
    fc.property(fc.array(fc.array(step, { minLength: 1, maxLength: 32 }), { maxLength: 20 }), (sequences) => {
      const text = sequences.map((s) => ` ${formatSequence(s)}`).join('\n');
      const parsed = parseOneTimeSequences(text, FILE);
      assert.deepEqual(parsed.lines.map((l) => l.steps), sequences.map((s) => s.map((x) => ({ ...x }))));
      assert.deepEqual(parsed.lines.map((l) => l.line), sequences.map((_, i) => i + 1));
    }),
    { numRuns: 500 },
  );
});

test("the byte reader reads as the text reader (and the checker refuses what it refuses); each unused line's offset and length hold its bytes (property)", () => {
  const piece = fc.constantFrom('7000', ',', ':udp', ':tcp', ' ', '\t', '\r', '#', 'x', 'é', '\uFEFF', '\n', '\n', '\n', '1', '65535', '0');
  const bytes = fc.oneof(
    fc.array(piece, { maxLength: 40 }).map((parts) => Buffer.from(parts.join(''), 'utf8')),
    fc.uint8Array({ maxLength: 40 }).map((array) => Buffer.from(array)),
    fc.array(piece, { maxLength: 40 }).map((parts) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(parts.join(''), 'utf8')])),
  );
  const outcome = (read: () => { lines: { line: number; steps: unknown }[] }) => {
    try {
      return { lines: read().lines.map(({ line, steps }) => ({ line, steps })) };
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return { problems: error.problems };
    }
  };
  fc.assert(
    fc.property(bytes, (file) => {
      const byText = outcome(() => parseOneTimeSequences(file.toString('utf8'), FILE));
      assert.deepEqual(outcome(() => parseOneTimeFile(file, FILE)), byText);
      const checked = outcome(() => (checkOneTimeSequences(file.toString('utf8'), FILE), { lines: [] }));
      assert.deepEqual(checked, 'problems' in byText ? byText : { lines: [] }, 'checkOneTimeSequences refuses exactly what the parser refuses');
      let placed;
      try {
        placed = parseOneTimeFile(file, FILE).lines;
      } catch {
        return;
      }
      const textLines = file.toString('utf8').replace(/^\uFEFF/, '').split('\n');
      for (const line of placed) {
        assert.equal(file.subarray(line.offset, line.offset + line.length).toString('utf8'), textLines[line.line - 1]);
        assert.ok(line.offset === 0 || file[line.offset - 1] === 0x0a || (line.line === 1 && line.offset === 3));
      }
    }),
    { numRuns: 2000 },
  );
});
