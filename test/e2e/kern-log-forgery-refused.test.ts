/**
 * Issue 10, finding 1: with `KernelLog = /var/log/kern.log` (or syslog, messages) any local user
 * could open a door: a datagram to /dev/log tagged `kernel:` lands in those files. Tried here as
 * nobody against a private rsyslogd that writes Debian's stock files: nfknockd refuses such a
 * KernelLog, `nfknock check` reports it, and `nfknock simulate` keeps its forgery warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eGate, waitFor } from '../helpers/lab.js';
import { nfknockdPath, nfknockPath } from '../helpers/daemon-lab.js';
import { readIfExists, startPrivateRsyslog } from '../helpers/rsyslog-private.js';
import { asNobody } from '../helpers/as-nobody.js';
import { netfilterMessage } from '../fixtures/simulate/lines.js';

const gate = e2eGate({ tools: ['rsyslogd', 'logger', 'setpriv'] });

test('a KernelLog that other writers share is refused: the forgery nobody writes into it opens nothing', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-kernlog-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o755);
  const syslog = join(dir, 'syslog');
  const kernLog = join(dir, 'kern.log');
  // Debian's stock rules: everything to syslog, kern.* to kern.log (root:adm 0640).
  const rule = (file: string, selector: string) => `${selector} action(type="omfile" file=${JSON.stringify(file)} template="RSYSLOG_FileFormat" fileCreateMode="0640")`;
  const rsyslog = await startPrivateRsyslog({ dir, rules: [rule(syslog, '*.*'), rule(kernLog, 'kern.*')].join('\n') });
  t.after(() => rsyslog.stop());
  await chmod(rsyslog.socket, 0o666);
  await writeFile(kernLog, '', { mode: 0o640, flag: 'a' });

  // nobody forges a whole sequence, tagged as the kernel.
  for (const port of [7000, 8000, 9000]) {
    const forged = netfilterMessage({ source: '203.0.113.66', port, at: Date.now() + port });
    const sent = asNobody(`logger --socket ${rsyslog.socket} -t kernel ${JSON.stringify(forged)}`);
    assert.equal(sent.status, 0, sent.stderr);
  }
  await waitFor(async () => (await readIfExists(syslog)).split('DPT=').length > 3, { timeoutMs: 5000, description: 'the forged lines in the shared syslog file' });

  const marker = join(dir, 'opened');
  for (const kernelLog of [syslog, kernLog]) {
    const config = join(dir, `${kernelLog.endsWith('syslog') ? 'syslog' : 'kern'}.conf`);
    await writeFile(config, `[options]\n    Source = file\n    KernelLog = ${kernelLog}\n[ssh]\n    sequence = 7000,8000,9000\n    command = touch ${marker}\n`, { mode: 0o600 });

    const daemon = spawnSync(process.execPath, [nfknockdPath, '-c', config, '--state-dir', join(dir, 'state'), '--allow-netns-log'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(daemon.status, 77, `nfknockd must refuse ${kernelLog}:\n${daemon.stderr}${daemon.stdout}`);
    assert.match(daemon.stderr, /is a general syslog file: any local user can write/);

    const check = spawnSync(process.execPath, [nfknockPath, 'check', '--strict', '-c', config], { encoding: 'utf8', timeout: 10_000 });
    assert.notEqual(check.status, 0, check.stdout);
    assert.match(check.stderr, new RegExp(`error: KernelLog ${kernelLog.replaceAll('/', '\\/')} is a general syslog file`));
  }

  // simulate replays the shared file but never trusts it because of its path: the warning stays.
  const simulated = spawnSync(process.execPath, [nfknockPath, 'simulate', '-c', join(dir, 'syslog.conf')], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(simulated.status, 0, simulated.stderr);
  assert.match(simulated.stdout, /203\.0\.113\.66 {2}ssh: OPEN SESAME/);
  assert.match(simulated.stdout, /logger -t kernel/);
  assert.equal(await readIfExists(marker), '', 'nothing was opened');
});
