import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLab, e2eGate, sleep } from '../helpers/lab.js';
import { SERVICE_PORT, hpingOnce, knockWithDebianKnock, knockWithNfknock, loadGeneratedFirewall, removeDir, seedDoorConf, startDaemon, waitForProbe, opensIn, assertDoorCycle } from '../helpers/daemon-lab.js';

const gate = e2eGate({ tools: ['knock', 'hping3'] });
const seed = ['7000:udp', '8000:tcp', '9000:udp'];

test('NFLOG, IPv4: the seeds door opens for the knocker only and closes on time', { skip: gate.skip, timeout: 90_000 }, async (t) => {
  const lab = await createLab({ name: 'nfk-v4' });
  t.after(() => lab.destroy());
  const conf = seedDoorConf({ cmdTimeout: 3 });
  await loadGeneratedFirewall(lab, conf);
  await lab.startTcpService(SERVICE_PORT, 4);
  const daemon = await startDaemon(lab, conf);
  t.after(async () => {
    await daemon.stop();
    await removeDir(daemon.dir);
  });

  assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 500), 'filtered', 'closed before any knock');

  await t.test('our client opens it, for the knocker only, and it closes after cmd_timeout', async () => {
    await knockWithNfknock(lab, 4, seed);
    const openedAt = Date.now();
    await waitForProbe(lab, 4, 'open', 3000);
    const rules = await lab.iptablesRules(4);
    assert.match(rules, new RegExp(`-A INPUT -s ${lab.clientAddress(4).replaceAll('.', '\\.')}/32 -p tcp -m tcp --dport ${SERVICE_PORT} -j ACCEPT`));
    assert.equal((rules.match(/--dport 2222 -j ACCEPT/g) ?? []).length, 1, 'one rule, for one source');
    await waitForProbe(lab, 4, 'filtered', 8000);
    const closedAfter = Date.now() - openedAt;
    assert.ok(closedAfter >= 2500, `closed too early (${closedAfter} ms)`);
    const log = await daemon.log();
    for (const expected of [
      `${lab.clientAddress(4)}: openSSH: Stage 1`,
      `${lab.clientAddress(4)}: openSSH: Stage 2`,
      `${lab.clientAddress(4)}: openSSH: OPEN SESAME`,
      `openSSH: running command: iptables -I INPUT -s ${lab.clientAddress(4)} -p tcp --dport 2222 -j ACCEPT`,
      `${lab.clientAddress(4)}: openSSH: command timeout`,
      `openSSH: running command: iptables -D INPUT -s ${lab.clientAddress(4)} -p tcp --dport 2222 -j ACCEPT`,
    ]) {
      assert.ok(log.includes(expected), `log has ${JSON.stringify(expected)}:\n${log}`);
    }
    assert.match(log, /^\[\d{4}-\d\d-\d\d \d\d:\d\d\] /m, 'knockd timestamp format');
  });

  await t.test("Debian's knock client opens it too", async () => {
    await assertDoorCycle(lab, 4, () => knockWithDebianKnock(lab, 4, seed));
  });

  const opensBefore = () => opensIn(daemon);

  await t.test('wrong order, wrong protocol and a too slow sequence open nothing', async () => {
    const before = await opensBefore();
    await knockWithNfknock(lab, 4, ['8000:tcp', '7000:udp', '9000:udp']);
    await knockWithNfknock(lab, 4, ['7000:udp', '8000:udp', '9000:udp']);
    await knockWithNfknock(lab, 4, ['7000:tcp', '8000:tcp', '9000:udp']);
    await knockWithNfknock(lab, 4, ['7000:udp', '8000:tcp']);
    await sleep(5200); // seq_timeout is 5 s
    await knockWithNfknock(lab, 4, ['9000:udp']);
    await sleep(500);
    assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 500), 'filtered');
    assert.equal(await opensBefore(), before);
    assert.match(await daemon.log(), /sequence (broken|timeout)/);
  });

  await t.test('a sequence split across two source addresses opens nothing', async () => {
    const before = await opensBefore();
    const other = lab.clientAddress(4).replace(/\.\d+$/, '.77');
    await hpingOnce(lab, '7000:udp', { source: lab.clientAddress(4) });
    await hpingOnce(lab, '8000:tcp', { source: other });
    await hpingOnce(lab, '9000:udp', { source: lab.clientAddress(4) });
    await hpingOnce(lab, '9000:udp', { source: other });
    await sleep(500);
    assert.equal(await opensBefore(), before);
    assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 500), 'filtered');
  });

  await t.test('hping3 packets from one address do open it (the negative cases above are not vacuous)', async () => {
    const before = await opensBefore();
    await hpingOnce(lab, '7000:udp');
    await hpingOnce(lab, '8000:tcp');
    await hpingOnce(lab, '9000:udp');
    await waitForProbe(lab, 4, 'open', 3000);
    assert.equal(await opensBefore(), before + 1);
    await waitForProbe(lab, 4, 'filtered', 8000);
  });
});

test('NFLOG, IPv4: ACK-only knocks on a tcpflags=syn door open nothing, SYN knocks do', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lab = await createLab({ name: 'nfk-flags' });
  t.after(() => lab.destroy());
  const conf = [
    '[synOnly]',
    '    sequence      = 7100,7200,7300',
    '    seq_timeout   = 5',
    '    tcpflags      = syn',
    `    start_command = iptables -I INPUT -s %IP% -p tcp --dport ${SERVICE_PORT} -j ACCEPT`,
    '    cmd_timeout   = 3',
    `    stop_command  = iptables -D INPUT -s %IP% -p tcp --dport ${SERVICE_PORT} -j ACCEPT`,
    '',
  ].join('\n');
  // Mark every packet to the knock ports (not only SYNs) so that the daemon, not the kernel, must refuse them.
  const config = conf.replace('    tcpflags      = syn\n', '');
  await loadGeneratedFirewall(lab, config);
  await lab.startTcpService(SERVICE_PORT, 4);
  const daemon = await startDaemon(lab, conf);
  t.after(async () => {
    await daemon.stop();
    await removeDir(daemon.dir);
  });
  for (const port of ['7100', '7200', '7300']) await hpingOnce(lab, port, { flags: '-A' });
  await sleep(700);
  assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 500), 'filtered');
  assert.doesNotMatch(await daemon.log(), /OPEN SESAME/);
  for (const port of ['7100', '7200', '7300']) await hpingOnce(lab, port, { flags: '-S' });
  await waitForProbe(lab, 4, 'open', 3000);
});
