import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandQueue, type CommandRunner } from '../src/runner/command-queue.js';
import type { CommandResult } from '../src/runner/shell.js';

function ok(): CommandResult {
  return { exitCode: 0, signal: null, timedOut: false, stdout: '', stderr: '', outputTruncated: false, durationMs: 1, spawnError: null };
}

/** A runner whose commands finish only when the test says so. */
function manualRunner() {
  const running = new Map<string, () => void>();
  const started: string[] = [];
  let peak = 0;
  const run: CommandRunner = (command) =>
    new Promise((resolve) => {
      started.push(command);
      running.set(command, () => resolve(ok()));
      peak = Math.max(peak, running.size);
    });
  const finish = async (command: string) => {
    const done = running.get(command);
    assert.ok(done, `${command} is running`);
    running.delete(command);
    done();
    await new Promise((r) => setImmediate(r));
  };
  return { run, started, finish, running, peak: () => peak };
}

const start = (command: string) => ({ kind: 'start' as const, command, timeoutMs: 1000 });
const stop = (command: string) => ({ kind: 'stop' as const, command, timeoutMs: 1000 });

test('no more than `concurrency` commands run at once; the rest wait their turn', async () => {
  const runner = manualRunner();
  const queue = new CommandQueue({ concurrency: 2, maxQueuedStarts: 10, run: runner.run });
  for (const c of ['a', 'b', 'c', 'd']) assert.equal(queue.submit(start(c)).accepted, true);
  assert.deepEqual(runner.started, ['a', 'b']);
  assert.deepEqual(queue.stats, { running: 2, runningStops: 0, queuedStarts: 2, queuedStops: 0, refusedStarts: 0 });
  await runner.finish('a');
  assert.deepEqual(runner.started, ['a', 'b', 'c']);
  await runner.finish('b');
  await runner.finish('c');
  await runner.finish('d');
  await queue.idle();
  assert.equal(runner.peak(), 2);
});

test('start commands beyond the queue bound are refused and logged', async () => {
  const runner = manualRunner();
  const warnings: string[] = [];
  const logger = { warn: (_o: unknown, msg: string) => warnings.push(msg) } as unknown as import('../src/logging/logger.js').Logger;
  const queue = new CommandQueue({ concurrency: 1, maxQueuedStarts: 2, run: runner.run, logger });
  const results = ['a', 'b', 'c', 'd', 'e'].map((c) => queue.submit(start(c)));
  assert.deepEqual(results.map((r) => r.accepted), [true, true, true, false, false]);
  const refused = results[3];
  assert.ok(refused && !refused.accepted);
  assert.match(refused.reason, /too many commands/);
  assert.equal(queue.stats.refusedStarts, 2);
  assert.equal(warnings.length, 2);
});

test('stop commands are never refused, however full the queue', () => {
  const runner = manualRunner();
  const queue = new CommandQueue({ concurrency: 1, maxQueuedStarts: 0, run: runner.run });
  queue.submit(start('busy'));
  assert.equal(queue.submit(start('refused')).accepted, false);
  for (let i = 0; i < 1000; i++) assert.equal(queue.submit(stop(`stop-${i}`)).accepted, true);
});

test('a waiting stop runs before waiting starts, and a reserved slot lets it past hung starts', async () => {
  const runner = manualRunner();
  const queue = new CommandQueue({ concurrency: 2, maxQueuedStarts: 10, stopReserve: 1, run: runner.run });
  queue.submit(start('hung-1'));
  queue.submit(start('hung-2'));
  queue.submit(start('waiting-start'));
  const submitted = queue.submit(stop('close'));
  assert.ok(submitted.accepted);
  assert.deepEqual(runner.started, ['hung-1', 'hung-2', 'close'], 'the stop did not wait for a start to finish');
  queue.submit(stop('close-2'));
  assert.equal(queue.stats.queuedStops, 1, 'only `stopReserve` stops exceed the concurrency');
  await runner.finish('hung-1');
  assert.deepEqual(runner.started.slice(3), [], 'slots: hung-2 + close (the reserve is in addition, not a spare start slot)');
  await runner.finish('close');
  assert.deepEqual(runner.started.slice(3), ['close-2'], 'a freed slot goes to the waiting stop before the waiting start');
  await runner.finish('hung-2');
  assert.deepEqual(runner.started.slice(4), ['waiting-start']);
  const result = await submitted.done;
  assert.equal(result.exitCode, 0);
});

test('a runner that throws still frees its slot and reports the failure', async () => {
  let calls = 0;
  const queue = new CommandQueue({
    concurrency: 1,
    run: async () => {
      calls++;
      throw new Error('fork failed');
    },
  });
  const first = queue.submit(start('a'));
  const second = queue.submit(start('b'));
  assert.ok(first.accepted && second.accepted);
  assert.equal((await first.done).spawnError, 'fork failed');
  assert.equal((await second.done).spawnError, 'fork failed');
  await queue.idle();
  assert.equal(calls, 2);
});

test('with the real shell, a burst of 50 starts never runs more than the limit at once', async () => {
  const queue = new CommandQueue({ concurrency: 3, maxQueuedStarts: 100 });
  let peak = 0;
  const done = [];
  for (let i = 0; i < 50; i++) {
    const submitted = queue.submit(start('sleep 0.01'));
    assert.ok(submitted.accepted);
    peak = Math.max(peak, queue.stats.running);
    done.push(submitted.done);
  }
  const results = await Promise.all(done);
  assert.ok(results.every((r) => r.exitCode === 0));
  assert.equal(peak, 3);
  await queue.idle();
});

test('execute: a refused start is a value naming why, never a throw', async () => {
  const runner = manualRunner();
  const queue = new CommandQueue({ concurrency: 1, maxQueuedStarts: 0, run: runner.run });
  const first = queue.execute({ kind: 'start', command: 'a', timeoutMs: 1000, door: 'ssh', source: '10.0.0.2' });
  const refused = await queue.execute({ kind: 'start', command: 'b', timeoutMs: 1000, door: 'ssh', source: '10.0.0.3' });
  assert.ok('refused' in refused);
  assert.match(refused.refused, /too many commands/);
  await runner.finish('a');
  const ran = await first;
  assert.ok(!('refused' in ran) && ran.exitCode === 0);
});

test('a command that fails to start reports how long the attempt took, not zero', async () => {
  const queue = new CommandQueue({
    run: () => new Promise((_resolve, reject) => setTimeout(() => reject(new Error('fork failed')), 30)),
  });
  const outcome = await queue.execute({ kind: 'stop', command: 'x', timeoutMs: 1000 });
  assert.ok(!('refused' in outcome));
  assert.match(outcome.spawnError ?? '', /fork failed/);
  assert.ok(outcome.durationMs >= 25, `durationMs ${outcome.durationMs}`);
});
