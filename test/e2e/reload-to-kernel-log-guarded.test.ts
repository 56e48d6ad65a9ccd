/**
 * Issue 10, finding 3: the nf_log_all_netns guard used to run only at start, so a daemon started on
 * NFLOG accepted `Source = file` by SIGHUP while every namespace could write forged kernel lines.
 * Runs in the host's namespace (nf_log_all_netns exists only there); binds an NFLOG group, no rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eGate, withNfLogAllNetns } from '../helpers/lab.js';
import { readIfAny, startLocalDaemon } from '../helpers/local-daemon.js';

const gate = e2eGate();

test('a SIGHUP from NFLOG to a kernel-log file source is refused while nf_log_all_netns is 1', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-guard-reload-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const marker = join(dir, 'opened');
  const doorText = `[ssh]\n    sequence = 7000,8000,9000\n    command = echo %IP% >> ${marker}\n`;
  const daemon = await startLocalDaemon(dir, doorText, ['--nflog-group', String(randomInt(20000, 60000))]);
  t.after(() => daemon.stop());
  const restore = withNfLogAllNetns();
  t.after(restore);

  await writeFile(daemon.configPath, `[options]\n    Source = file\n    KernelLog = ${daemon.kernelLog}\n${doorText}`, { mode: 0o600 });
  process.kill(daemon.child.pid as number, 'SIGHUP');
  await daemon.waitForOutput(/reload refused, still running the previous configuration[^\n]*nf_log_all_netns is 1/);
  // A forged line in the file opens nothing: the file source never started.
  await daemon.knock('203.0.113.7', [7000, 8000, 9000]);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(await readIfAny(marker), '', daemon.output());
});
