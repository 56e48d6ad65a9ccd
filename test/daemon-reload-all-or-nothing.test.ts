/**
 * Issue 10, finding 7: a SIGHUP whose new LogFile cannot be opened used to log "reload refused" while
 * the new doors were already live and the knock log had stopped. Now nothing switches until all of
 * the new configuration is ready.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './helpers/lab.js';
import { readIfAny, startLocalDaemon } from './helpers/local-daemon.js';

const door = (name: string, ports: number[], marker: string) => `[${name}]\n    sequence = ${ports.join(',')}\n    seq_timeout = 5\n    command = echo ${name} %IP% >> ${marker}\n`;

test('a reload whose LogFile cannot be opened changes nothing: old doors open, new ones do not, the log keeps its lines', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-reload-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const marker = join(dir, 'opened');
  const logFile = join(dir, 'knock.log');
  const first = `[options]\n    LogFile = ${logFile}\n${door('old', [7000, 8000, 9000], marker)}`;
  const daemon = await startLocalDaemon(dir, first, ['--source', 'file', '--kernel-log', join(dir, 'kernel.log'), '--allow-netns-log']);
  t.after(() => daemon.stop());

  await writeFile(daemon.configPath, `[options]\n    LogFile = ${join(dir, 'no-such-dir', 'knock.log')}\n${door('new', [7100, 7200, 7300], marker)}`, { mode: 0o600 });
  process.kill(daemon.child.pid as number, 'SIGHUP');
  await daemon.waitForOutput(/reload refused, still running the previous configuration[^\n]*no-such-dir/);

  await daemon.knock('203.0.113.5', [7100, 7200, 7300]);
  await daemon.knock('203.0.113.6', [7000, 8000, 9000]);
  await waitFor(async () => (await readIfAny(marker)).includes('old 203.0.113.6'), { timeoutMs: 8000 });
  assert.equal(await readIfAny(marker), 'old 203.0.113.6\n', 'the old door opened, the refused new one did not');
  assert.match(await readIfAny(logFile), /203\.0\.113\.6: old: OPEN SESAME/, 'the knock log still gets its lines');
});
