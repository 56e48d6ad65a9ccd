import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseSequence, splitSequence } from '../src/config/sequence.js';

test('parseSequence (a one-pass scan first) reads every text as splitting and trimming does, errors included (property)', () => {
  const piece = fc.constantFrom('7000', '1', '65535', '65536', '0', '00080', '12345678901', ',', ',', ':', 'tcp', 'udp', 'TCP', 'Udp', 'tc', 'tcpx', 'sctp', ' ', '\t', '\v', '\r', '\u00a0', '\u212a', 'x', '-', '9');
  const text = fc.oneof(
    fc.array(piece, { maxLength: 14 }).map((parts) => parts.join('')),
    fc.string(),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 70000 }), fc.constantFrom('', ':tcp', ':udp', ' : UDP ', ':Tcp')), { minLength: 1, maxLength: 40 }).map((steps) => steps.map(([port, protocol]) => ` ${port}${protocol}`).join(',')),
  );
  fc.assert(
    fc.property(text, (value) => {
      assert.deepEqual(parseSequence(value), splitSequence(value));
    }),
    { numRuns: 5000 },
  );
  assert.deepEqual(parseSequence(' 7000 : TCP ,8000:udp,\t9000'), { ok: true, steps: [{ port: 7000, protocol: 'tcp' }, { port: 8000, protocol: 'udp' }, { port: 9000, protocol: 'tcp' }] });
});
