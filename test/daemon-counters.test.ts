import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Counters } from '../src/daemon/counters.js';

test('no event yet: no last event time and no kinds', () => {
  const counters = new Counters();
  assert.equal(counters.lastEventAt, undefined);
  assert.deepEqual([...counters.eventsBySource], []);
  assert.equal(counters.events, 0);
});

test('events are counted per source kind across switches (a reload may change the source), in first-seen order', () => {
  const counters = new Counters();
  counters.event('nflog', 1_700_000_000_000.5);
  counters.event('nflog', 1_700_000_000_001);
  counters.event('kmsg', 1_700_000_000_002);
  counters.event('nflog', 0);
  assert.deepEqual([...counters.eventsBySource], [
    ['nflog', 3],
    ['kmsg', 1],
  ]);
  assert.equal(counters.events, 4);
  // An event stamped at the epoch is still an event.
  assert.equal(counters.lastEventAt, 0);
});

test('property: eventsBySource equals a Map counted the plain way, and events its sum', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom('nflog', 'kmsg', 'file'), fc.double({ min: 0, max: 4e12, noNaN: true }))), (events) => {
      const counters = new Counters();
      const expected = new Map<string, number>();
      for (const [kind, at] of events) {
        counters.event(kind, at);
        expected.set(kind, (expected.get(kind) ?? 0) + 1);
      }
      assert.deepEqual([...counters.eventsBySource], [...expected]);
      assert.equal(counters.events, events.length);
      assert.equal(counters.lastEventAt, events.at(-1)?.[1]);
    }),
  );
});
