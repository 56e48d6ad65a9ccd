import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Matcher } from '../src/matcher/matcher.js';
import type { KnockEvent } from '../src/core/types.js';
import { knock, makeDoor } from './helpers/knock-fixtures.js';

const door = makeDoor({ seqTimeoutMs: 2000 });
const sequence = ['7000:udp', '8000:tcp', '9000:udp'];
const noise = ['7000:udp', '8000:tcp', '9000:udp', '7000:tcp', '8000:udp', '1234:tcp'];

/** Reference: did this source's own packets contain the sequence, in order and in time, without a breaking packet? */
function referenceOpens(events: KnockEvent[]): number {
  let opens = 0;
  let stage = 0;
  let startedAt = 0;
  let last: string | undefined;
  for (const e of events) {
    const name = `${e.port}:${e.protocol}`;
    if (stage > 0 && e.at - startedAt > door.seqTimeoutMs) stage = 0;
    if (stage > 0) {
      if (name === sequence[stage]) {
        stage++;
        last = name;
        if (stage === sequence.length) {
          opens++;
          stage = 0;
        }
        continue;
      }
      if (name === last) continue;
      stage = 0;
    }
    if (name === sequence[0]) {
      stage = 1;
      startedAt = e.at;
      last = name;
    }
  }
  return opens;
}

test('the matcher agrees with a reference model for interleaved sources (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ source: fc.integer({ min: 1, max: 3 }), step: fc.constantFrom(...noise), dt: fc.integer({ min: 0, max: 900 }) }), { maxLength: 120 }),
      (script) => {
        const opens = new Map<string, number>();
        const matcher = new Matcher([door], { maxAttempts: 1000, onAction: (a) => a.kind === 'open' && opens.set(a.source, (opens.get(a.source) ?? 0) + 1) });
        let at = 0;
        const events = script.map((entry) => knock(`10.0.0.${entry.source}`, entry.step, (at += entry.dt)));
        for (const event of events) matcher.feed(event);
        for (const source of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) {
          assert.equal(opens.get(source) ?? 0, referenceOpens(events.filter((e) => e.source === source)), source);
        }
      },
    ),
    { numRuns: 5000 },
  );
});

test('a source that never sent the last knock never opens (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ source: fc.integer({ min: 1, max: 4 }), step: fc.constantFrom(...noise.filter((n) => n !== '9000:udp')) })), (script) => {
      let opened = false;
      const matcher = new Matcher([door], { maxAttempts: 10, onAction: (a) => (opened ||= a.kind === 'open') });
      script.forEach((entry, i) => matcher.feed(knock(`10.0.0.${entry.source}`, entry.step, i)));
      assert.equal(opened, false);
    }),
  );
});
