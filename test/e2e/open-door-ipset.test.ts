import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, e2eGate, outputOf, waitFor } from '../helpers/lab.js';
import { nfknockdPath, removeDir } from '../helpers/daemon-lab.js';
import { openDoorConf, runOpenDoorScenario } from '../helpers/open-door-lab.js';
import { startPrivateRsyslog } from '../helpers/rsyslog-private.js';

const gate = e2eGate({ tools: ['knock', 'ipset', 'rsyslogd', 'logger'] });

test('Firewall = ipset, IPv4 and IPv6, our client and Debian knock: Open = 2222:tcp opens for the knocker only, a re-knock keeps it open, and the kernel closes it within cmd_timeout + 1 s after kill -9 with the state dir gone', { skip: gate.skip, timeout: 90_000 }, async (t) => {
  await runOpenDoorScenario(t, 'ipset');
});

test('Open = doors without their sets: nfknockd refuses to start, names the command that creates them, and exits even with a live syslog writer', { skip: gate.skip, timeout: 30_000 }, async (t) => {
  const lab = await createLab({ name: 'nfk-onos', ipv6: false });
  t.after(() => lab.destroy());
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-e2e-'));
  t.after(() => removeDir(dir));
  // UseSyslog with a syslog daemon that is listening: its logger(1) child must not keep the refused daemon alive.
  const rsyslog = await startPrivateRsyslog({ dir, rules: `*.* action(type="omfile" file=${JSON.stringify(join(dir, 'syslog.out'))})` });
  t.after(() => rsyslog.stop());
  await writeFile(join(dir, 'knockd.conf'), openDoorConf('ipset').replace('[options]\n', '[options]\n    UseSyslog\n'), { mode: 0o600 });
  const daemon = lab.spawn('server', [process.execPath, nfknockdPath, '-c', join(dir, 'knockd.conf'), '--state-dir', join(dir, 'state'), '--stats-file', join(dir, 'stats.json'), '--syslog-socket', rsyslog.socket]);
  await waitFor(() => daemon.exitCode !== null, { timeoutMs: 10_000, description: 'the refused daemon to exit' });
  assert.equal(daemon.exitCode, 69);
  assert.match(outputOf(daemon), /ipset save nfknock-open4" failed .*nfknock rules --format ipset > \/etc\/nfknock\/ipsets && ipset restore -exist < \/etc\/nfknock\/ipsets/);
});
