import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FLOOD_ENTER_PER_SECOND,
  FLOOD_LEAVE_PER_SECOND,
  FLOOD_TIMEOUT_CS,
  FlushTimeoutPolicy,
  NFLOG_BUFFER_BYTES,
  NFLOG_QUEUE_THRESHOLD,
  QUIET_TIMEOUT_CS,
} from '../src/sources/nflog-batching.js';

test('the buffer fits a 64 KiB kernel allocation, the threshold never flushes before it, and a flood knock waits under 100 ms', () => {
  assert.ok(NFLOG_BUFFER_BYTES + 320 <= 65536 && NFLOG_BUFFER_BYTES > 32768);
  // The smallest message the kernel sends for an IPv4 UDP knock is over 100 bytes.
  assert.ok(NFLOG_QUEUE_THRESHOLD * 100 > NFLOG_BUFFER_BYTES);
  assert.ok(QUIET_TIMEOUT_CS === 1 && FLOOD_TIMEOUT_CS * 10 < 100);
});

test('quiet: the short timeout; a second at the flood rate switches to the long one, once', () => {
  const policy = new FlushTimeoutPolicy(0);
  assert.equal(policy.timeoutCentiseconds, QUIET_TIMEOUT_CS);
  // Within the first window nothing changes, however many events come.
  assert.equal(policy.observe(500, FLOOD_ENTER_PER_SECOND * 10), undefined);
  assert.equal(policy.observe(1000, 0), FLOOD_TIMEOUT_CS);
  assert.equal(policy.timeoutCentiseconds, FLOOD_TIMEOUT_CS);
  assert.equal(policy.observe(2000, FLOOD_ENTER_PER_SECOND * 10), undefined);
  assert.equal(policy.timeoutCentiseconds, FLOOD_TIMEOUT_CS);
});

test('hysteresis: a rate between the thresholds keeps whichever timeout is set; below the lower one the short one returns', () => {
  const between = Math.floor((FLOOD_ENTER_PER_SECOND + FLOOD_LEAVE_PER_SECOND) / 2);
  const policy = new FlushTimeoutPolicy(0);
  assert.equal(policy.observe(1000, between), undefined);
  assert.equal(policy.timeoutCentiseconds, QUIET_TIMEOUT_CS);
  assert.equal(policy.observe(2000, FLOOD_ENTER_PER_SECOND), FLOOD_TIMEOUT_CS);
  assert.equal(policy.observe(3000, between), undefined);
  assert.equal(policy.timeoutCentiseconds, FLOOD_TIMEOUT_CS);
  assert.equal(policy.observe(4000, FLOOD_LEAVE_PER_SECOND - 1), QUIET_TIMEOUT_CS);
});

test('after a flood, the first batch after a silence switches back to the short timeout', () => {
  const policy = new FlushTimeoutPolicy(0);
  assert.equal(policy.observe(1000, 5000), FLOOD_TIMEOUT_CS);
  // An hour without a packet, then one knock: the rate over the window is ~0.
  assert.equal(policy.observe(3_601_000, 1), QUIET_TIMEOUT_CS);
});

test('a refused change is taken back and tried again after the next window', () => {
  const policy = new FlushTimeoutPolicy(0);
  assert.equal(policy.observe(1000, 5000), FLOOD_TIMEOUT_CS);
  policy.refused(FLOOD_TIMEOUT_CS);
  assert.equal(policy.timeoutCentiseconds, QUIET_TIMEOUT_CS);
  assert.equal(policy.observe(2000, 5000), FLOOD_TIMEOUT_CS);
  // A refusal that no longer matches what is set (a later change won) changes nothing.
  policy.refused(QUIET_TIMEOUT_CS);
  assert.equal(policy.timeoutCentiseconds, FLOOD_TIMEOUT_CS);
});

test('a clock that steps back starts a new window instead of stalling the policy', () => {
  const policy = new FlushTimeoutPolicy(10_000);
  assert.equal(policy.observe(5000, 5000), undefined);
  assert.equal(policy.observe(6000, 1000), FLOOD_TIMEOUT_CS);
});

test('property: at most one change per second of clock, and the timeout in force is always one of the two', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 20_000 })), { maxLength: 200 }), (batches) => {
      const policy = new FlushTimeoutPolicy(0);
      let now = 0;
      let lastChange = -Infinity;
      for (const [step, events] of batches) {
        now += step;
        const before = policy.timeoutCentiseconds;
        const change = policy.observe(now, events);
        assert.ok(policy.timeoutCentiseconds === QUIET_TIMEOUT_CS || policy.timeoutCentiseconds === FLOOD_TIMEOUT_CS);
        if (change === undefined) {
          assert.equal(policy.timeoutCentiseconds, before);
          continue;
        }
        assert.notEqual(change, before);
        assert.equal(change, policy.timeoutCentiseconds);
        assert.ok(now - lastChange >= 1000);
        lastChange = now;
      }
    }),
  );
});
