import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runCommand } from '../src/runner/shell.js';

/** Alive and not a zombie (a reparented zombie may wait for a PID 1 that does not reap). */
async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isRunning(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

test('runs the command with /bin/sh -c and reports its exit status and output', async () => {
  const ok = await runCommand('echo "out $((1+2))"; echo err >&2', { timeoutMs: 5000 });
  assert.deepEqual(
    { exitCode: ok.exitCode, signal: ok.signal, timedOut: ok.timedOut, stdout: ok.stdout, stderr: ok.stderr, spawnError: ok.spawnError },
    { exitCode: 0, signal: null, timedOut: false, stdout: 'out 3\n', stderr: 'err\n', spawnError: null },
  );
  const failed = await runCommand('exit 3', { timeoutMs: 5000 });
  assert.equal(failed.exitCode, 3);
  assert.equal(failed.timedOut, false);
  assert.ok(failed.durationMs >= 0);
});

test('a command killed by a signal reports the signal', async () => {
  const result = await runCommand('kill -USR1 $$', { timeoutMs: 5000 });
  assert.equal(result.exitCode, null);
  assert.equal(result.signal, 'SIGUSR1');
});

test('a hung command is killed with its whole process group, including a sleep grandchild', async () => {
  const started = Date.now();
  const result = await runCommand('sleep 60 & echo $!; wait', { timeoutMs: 300, killGraceMs: 500 });
  const grandchild = Number(result.stdout.trim());
  assert.ok(grandchild > 1, `grandchild pid printed: ${result.stdout}`);
  assert.equal(result.timedOut, true);
  assert.equal(result.signal, 'SIGTERM');
  assert.equal(isRunning(grandchild), false, 'the grandchild is gone');
  assert.ok(Date.now() - started < 5000);
});

test('a child that ignores SIGTERM is SIGKILLed after the grace period', async () => {
  const result = await runCommand("trap '' TERM; sh -c \"trap '' TERM; sleep 60\" & echo $!; wait", {
    timeoutMs: 200,
    killGraceMs: 300,
  });
  const grandchild = Number(result.stdout.trim());
  assert.equal(result.timedOut, true);
  assert.ok(result.durationMs >= 500, `reported only after the SIGKILL (${result.durationMs} ms)`);
  // SIGKILL is sent; on a loaded machine the kernel may take a moment to finish the exit.
  assert.equal(await goneWithin(grandchild, 2000), true, 'the grandchild that ignored SIGTERM is killed');
});

test('a background child of a finished command keeps running and does not hold up the result', async () => {
  const result = await runCommand('sleep 30 > /dev/null 2>&1 & echo $!', { timeoutMs: 5000 });
  const background = Number(result.stdout.trim());
  try {
    assert.equal(result.exitCode, 0);
    assert.ok(result.durationMs < 2000);
    assert.equal(isRunning(background), true, 'knockd does not kill what a start command leaves behind');
  } finally {
    process.kill(background, 'SIGKILL');
  }
});

test('output is capped at the limit and marked truncated', async () => {
  const result = await runCommand('head -c 100000 /dev/zero | tr "\\0" a; echo tail >&2', { timeoutMs: 5000, outputLimit: 4096 });
  assert.equal(result.stdout.length, 4096);
  assert.equal(result.stderr, 'tail\n');
  assert.equal(result.outputTruncated, true);
  const small = await runCommand('echo hi', { timeoutMs: 5000 });
  assert.equal(small.outputTruncated, false);
});

test('a shell that cannot be started is reported, not thrown', async () => {
  const result = await runCommand('true', { timeoutMs: 1000, shell: '/nonexistent/sh' });
  assert.equal(result.exitCode, null);
  assert.match(result.spawnError ?? '', /ENOENT/);
});

test('the environment is the one given', async () => {
  const result = await runCommand('echo "$NFK_TEST_VAR:${HOME:-unset}"', { timeoutMs: 5000, env: { NFK_TEST_VAR: 'x', PATH: '/usr/bin:/bin' } });
  assert.equal(result.stdout, 'x:unset\n');
});
