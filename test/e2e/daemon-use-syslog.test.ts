import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, e2eGate, waitFor } from '../helpers/lab.js';
import { knockWithNfknock, loadGeneratedFirewall, removeDir, seedDoorConf, startDaemon } from '../helpers/daemon-lab.js';
import { readIfExists, startPrivateRsyslog } from '../helpers/rsyslog-private.js';

const gate = e2eGate({ tools: ['rsyslogd', 'logger'] });

test('UseSyslog: the knockd lines reach a real rsyslogd, tagged nfknockd', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lab = await createLab({ name: 'nfk-syslog' });
  t.after(() => lab.destroy());
  const conf = ['[options]', '    UseSyslog', '', seedDoorConf()].join('\n');
  await loadGeneratedFirewall(lab, conf, { family: 4 });
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-syslog-'));
  t.after(() => removeDir(dir));
  const output = join(dir, 'syslog.out');
  const rsyslog = await startPrivateRsyslog({ dir, rules: `*.* action(type="omfile" file=${JSON.stringify(output)} template="RSYSLOG_TraditionalFileFormat")` });
  t.after(() => rsyslog.stop());
  const daemon = await startDaemon(lab, conf, ['--syslog-socket', rsyslog.socket], { dir });
  t.after(() => daemon.stop());
  await knockWithNfknock(lab, 4, ['7000:udp', '8000:tcp', '9000:udp']);
  const text = await waitFor(async () => {
    const current = await readIfExists(output);
    // The command line comes last (after the pending close is saved): wait for it, not for OPEN SESAME.
    return /nfknockd\[\d+\]: openSSH: running command: /.test(current) ? current : undefined;
  }, { timeoutMs: 5000, description: 'the running command line in the syslog output' });
  assert.match(text, /nfknockd\[\d+\]: .*openSSH: OPEN SESAME/);
  assert.match(text, /nfknockd\[\d+\]: starting up, listening on NFLOG group 5/);
  assert.match(text, new RegExp(`nfknockd\\[\\d+\\]: ${lab.clientAddress(4).replaceAll('.', '\\.')}: openSSH: Stage 1`));
  assert.match(text, /nfknockd\[\d+\]: openSSH: running command: iptables -I INPUT/);
});
