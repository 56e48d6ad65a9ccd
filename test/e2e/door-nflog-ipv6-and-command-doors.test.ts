import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLab, e2eGate, sleep } from '../helpers/lab.js';
import { SERVICE_PORT, knockWithDebianKnock, knockWithNfknock, loadGeneratedFirewall, removeDir, startDaemon, waitForProbe } from '../helpers/daemon-lab.js';

const gate = e2eGate({ tools: ['knock'] });

test('NFLOG, IPv6: start_command_6 opens the service for the IPv6 knocker and stop_command_6 closes it', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lab = await createLab({ name: 'nfk-v6' });
  t.after(() => lab.destroy());
  const v6rule = (verb: string) => `ip6tables ${verb} INPUT -s %IP% -p tcp --dport ${SERVICE_PORT} -j ACCEPT`;
  const conf = [
    '[openSSH]',
    '    sequence        = 7000:udp,8000:tcp,9000:udp',
    '    seq_timeout     = 5',
    `    start_command   = iptables -I INPUT -s %IP% -p tcp --dport ${SERVICE_PORT} -j ACCEPT`,
    `    start_command_6 = ${v6rule('-I')}`,
    '    cmd_timeout     = 3',
    `    stop_command    = iptables -D INPUT -s %IP% -p tcp --dport ${SERVICE_PORT} -j ACCEPT`,
    `    stop_command_6  = ${v6rule('-D')}`,
    '',
  ].join('\n');
  await loadGeneratedFirewall(lab, conf);
  await lab.startTcpService(SERVICE_PORT, 6);
  const daemon = await startDaemon(lab, conf);
  t.after(async () => {
    await daemon.stop();
    await removeDir(daemon.dir);
  });
  assert.equal(await lab.probeTcp(SERVICE_PORT, 6, 500), 'filtered');
  await knockWithNfknock(lab, 6, ['7000:udp', '8000:tcp', '9000:udp']);
  await waitForProbe(lab, 6, 'open', 3000);
  assert.match(await lab.iptablesRules(6), new RegExp(`-A INPUT -s ${lab.clientAddress(6)}/128 -p tcp -m tcp --dport ${SERVICE_PORT} -j ACCEPT`));
  assert.doesNotMatch(await lab.iptablesRules(4), /--dport 2222 -j ACCEPT/, 'the IPv4 command did not run');
  await waitForProbe(lab, 6, 'filtered', 8000);
  await knockWithDebianKnock(lab, 6, ['7000:udp', '8000:tcp', '9000:udp']);
  await waitForProbe(lab, 6, 'open', 3000);
  assert.match(await daemon.log(), new RegExp(`${lab.clientAddress(6)}: openSSH: OPEN SESAME`));
});

test('NFLOG: command-only doors, one that opens and one that closes (knockd\'s classic pair)', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lab = await createLab({ name: 'nfk-cmd' });
  t.after(() => lab.destroy());
  const conf = [
    '[openSSH]',
    '    sequence    = 7000,8000,9000',
    '    seq_timeout = 5',
    '    tcpflags    = syn',
    `    command     = /usr/sbin/iptables -I INPUT -s %IP% -p tcp --dport ${SERVICE_PORT} -j ACCEPT`,
    '',
    '[closeSSH]',
    '    sequence    = 9000,8000,7000',
    '    seq_timeout = 5',
    '    tcpflags    = syn',
    `    command     = /usr/sbin/iptables -D INPUT -s %IP% -p tcp --dport ${SERVICE_PORT} -j ACCEPT`,
    '',
  ].join('\n');
  await loadGeneratedFirewall(lab, conf, { family: 4 });
  await lab.startTcpService(SERVICE_PORT, 4);
  const daemon = await startDaemon(lab, conf);
  t.after(async () => {
    await daemon.stop();
    await removeDir(daemon.dir);
  });
  await knockWithNfknock(lab, 4, ['7000', '8000', '9000']);
  await waitForProbe(lab, 4, 'open', 3000);
  await sleep(1500);
  assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 500), 'open', 'no cmd_timeout close for a command-only door');
  await knockWithDebianKnock(lab, 4, ['9000', '8000', '7000']);
  await waitForProbe(lab, 4, 'filtered', 3000);
  const log = await daemon.log();
  assert.match(log, /openSSH: OPEN SESAME/);
  assert.match(log, /closeSSH: OPEN SESAME/);
});
