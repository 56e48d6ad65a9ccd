import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LineLimiter, OVERFLOW_CATEGORY } from '../src/logging/line-limiter.js';

test('a flood of stage lines is cut to N per window, and the next window starts with a summary', () => {
  const limiter = new LineLimiter({ linesPerWindow: 3, windowMs: 1000 });
  const admitted = [];
  for (let i = 0; i < 100; i++) admitted.push(limiter.admit('stage', 10_000 + i));
  assert.equal(admitted.filter((a) => a.admit).length, 3);
  const next = limiter.admit('stage', 11_000);
  assert.deepEqual(next, { admit: true, summary: { category: 'stage', suppressed: 97, spanMs: 997 } });
  assert.deepEqual(limiter.admit('stage', 11_001), { admit: true });
});

test('categories are limited independently', () => {
  const limiter = new LineLimiter({ linesPerWindow: 1, windowMs: 1000 });
  assert.equal(limiter.admit('stage', 0).admit, true);
  assert.equal(limiter.admit('stage', 1).admit, false);
  assert.equal(limiter.admit('timeout', 2).admit, true);
});

test('flush reports what a finished flood held back even when no further line comes', () => {
  const limiter = new LineLimiter({ linesPerWindow: 1, windowMs: 1000 });
  limiter.admit('stage', 0);
  limiter.admit('stage', 10);
  limiter.admit('stage', 20);
  assert.deepEqual(limiter.flush(500), [], 'window still open');
  assert.deepEqual(limiter.flush(1000), [{ category: 'stage', suppressed: 2, spanMs: 990 }]);
  assert.deepEqual(limiter.flush(5000), [], 'reported once');
  limiter.admit('stage', 6000);
  limiter.admit('stage', 6001);
  assert.deepEqual(limiter.drain(6002), [{ category: 'stage', suppressed: 1, spanMs: 1 }]);
});

test('unbounded category names share one overflow bucket', () => {
  const limiter = new LineLimiter({ linesPerWindow: 1, windowMs: 1000, maxCategories: 2 });
  limiter.admit('a', 0);
  limiter.admit('b', 0);
  assert.equal(limiter.admit('c', 0).admit, true);
  assert.equal(limiter.admit('d', 0).admit, false);
  limiter.admit('e', 0);
  assert.deepEqual(limiter.flush(1000), [{ category: OVERFLOW_CATEGORY, suppressed: 2, spanMs: 1000 }]);
});

test('every line is either admitted or counted in exactly one summary', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5 }),
      fc.array(fc.tuple(fc.constantFrom('stage', 'timeout'), fc.integer({ min: 0, max: 300 })), { maxLength: 300 }),
      (limit, steps) => {
        const limiter = new LineLimiter({ linesPerWindow: limit, windowMs: 1000 });
        let now = 0;
        let admitted = 0;
        let summarized = 0;
        for (const [category, gap] of steps) {
          now += gap;
          const result = limiter.admit(category, now);
          if (result.admit) {
            admitted++;
            summarized += result.summary?.suppressed ?? 0;
          }
          if (gap % 7 === 0) summarized += limiter.flush(now).reduce((sum, s) => sum + s.suppressed, 0);
        }
        summarized += limiter.drain(now).reduce((sum, s) => sum + s.suppressed, 0);
        assert.equal(admitted + summarized, steps.length);
      },
    ),
  );
});

test('any stretch of one window length admits at most 2N lines of a category', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 400 }), (gaps) => {
      const limiter = new LineLimiter({ linesPerWindow: 4, windowMs: 1000 });
      let now = 0;
      const times: number[] = [];
      for (const gap of gaps) {
        now += gap;
        if (limiter.admit('stage', now).admit) times.push(now);
      }
      // Windows hold at most 4 lines each and start at an admitted line, so line i+8 is two windows later.
      for (let i = 8; i < times.length; i++) assert.ok((times[i] as number) - (times[i - 8] as number) >= 1000);
    }),
  );
});

test('nonsense limits are refused', () => {
  assert.throws(() => new LineLimiter({ linesPerWindow: 0, windowMs: 1000 }), RangeError);
  assert.throws(() => new LineLimiter({ linesPerWindow: 1, windowMs: 0 }), RangeError);
});
