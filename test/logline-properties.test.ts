import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isIP } from 'node:net';
import { parseLogLine } from '../src/decode/log-line.js';
import { logLineArbitrary, realLines } from './helpers/logline-fixtures.js';

const PREFIX = 'portknock';

function assertWellFormedResult(result: ReturnType<typeof parseLogLine>): void {
  if (!result.ok) {
    assert.equal(typeof result.reason, 'string');
    assert.ok(result.reason.length > 0);
    return;
  }
  const event = result.value;
  assert.ok(isIP(event.source) === event.family && isIP(event.destination) === event.family);
  assert.ok(Number.isInteger(event.port) && event.port >= 1 && event.port <= 65535);
  assert.ok(event.protocol === 'tcp' || event.protocol === 'udp');
  assert.ok(event.tcpFlags >= 0 && event.tcpFlags <= 0xff);
}

describe('parseLogLine properties', () => {
  it('decodes generated kernel-order lines to exactly the fields they were built from', () => {
    fc.assert(
      fc.property(logLineArbitrary(PREFIX, false), ({ line, expected }) => {
        assert.deepEqual(parseLogLine(line, PREFIX), { ok: true, value: expected });
      }),
      { numRuns: 20_000 },
    );
  });

  it('does not depend on field order and ignores extra fields', () => {
    fc.assert(
      fc.property(logLineArbitrary(PREFIX, true), ({ line, expected }) => {
        assert.deepEqual(parseLogLine(line, PREFIX), { ok: true, value: expected });
      }),
      { numRuns: 20_000 },
    );
  });

  it('a line cut anywhere is rejected or still yields the same event, never a different one', () => {
    fc.assert(
      fc.property(logLineArbitrary(PREFIX, false), fc.nat(1_000_000), ({ line, expected }, where) => {
        // A uniform cut position (fc.double would cluster near 0).
        const cut = line.slice(0, where % (line.length + 1));
        const result = parseLogLine(cut, PREFIX);
        if (result.ok) assert.deepEqual(result.value, expected, `cut line ${JSON.stringify(cut)} changed meaning`);
        else assert.ok(result.reason.length > 0);
      }),
      { numRuns: 20_000 },
    );
  });

  it('never throws on random mutations of real lines', () => {
    const base = fc.constantFrom(...Object.values(realLines));
    const edit = fc.record({
      at: fc.nat(1_000_000),
      remove: fc.nat(6),
      insert: fc.string({ maxLength: 6, unit: fc.constantFrom(...' =:()[]0123456789abcdefSYNACKPROTOLENDPTSRC.\\\n\u0000é'.split('')) }),
    });
    fc.assert(
      fc.property(base, fc.array(edit, { minLength: 1, maxLength: 4 }), (line, edits) => {
        let text: string = line;
        for (const e of edits) {
          const at = e.at % (text.length + 1);
          text = text.slice(0, at) + e.insert + text.slice(at + e.remove);
        }
        assertWellFormedResult(parseLogLine(text, PREFIX));
      }),
      { numRuns: 20_000 },
    );
  });

  it('never throws on arbitrary text after the prefix', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.constantFrom('', ' ', ': ', ' IN='), (tail, glue) => {
        assertWellFormedResult(parseLogLine(`${PREFIX}${glue}${tail}`, PREFIX));
      }),
      { numRuns: 10_000 },
    );
  });
});
