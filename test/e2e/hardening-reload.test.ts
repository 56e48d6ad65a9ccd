import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLab, e2eGate, sleep } from '../helpers/lab.js';
import { SERVICE_PORT, knockWithNfknock, loadGeneratedFirewall, removeDir, startDaemon, waitForProbe, opensIn } from '../helpers/daemon-lab.js';
import { SEED, countOf, serviceDoor, signalDaemon, waitForLog, waitForOutputText, writeConfig } from '../helpers/hardening-lab.js';

const gate = e2eGate();

test('SIGHUP: a broken config keeps the old doors, a changed one adds a door, an open door still closes on time', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lab = await createLab({ name: 'nfkj-reload' });
  t.after(() => lab.destroy());
  const first = serviceDoor('openSSH', SEED.join(','), { cmdTimeout: 2 });
  const second = serviceDoor('second', '7100:udp,7200:udp', { cmdTimeout: 2 });
  // The firewall marks both doors' ports from the start: only the daemon's config changes.
  await loadGeneratedFirewall(lab, first + second, { family: 4 });
  await lab.startTcpService(SERVICE_PORT, 4);
  const daemon = await startDaemon(lab, first);
  t.after(async () => {
    await daemon.stop();
    await removeDir(daemon.dir);
  });

  await t.test('a broken config is refused with its line number and the old door still opens', async () => {
    // Line 9 of the file: the door `broken` has an unknown protocol.
    await writeConfig(daemon, `${first}\n[broken]\n    sequence = 7300:sctp\n    start_command = true\n`);
    await signalDaemon(daemon, 'SIGHUP');
    const output = await waitForOutputText(daemon, /reload refused/);
    assert.match(output, /reload refused, still running the previous configuration: [^"]*knockd\.conf:9: /);
    await knockWithNfknock(lab, 4, SEED);
    await waitForProbe(lab, 4, 'open', 3000);
    await waitForProbe(lab, 4, 'filtered', 6000);
  });

  await t.test('a changed config serves its new door', async () => {
    await knockWithNfknock(lab, 4, ['7100:udp', '7200:udp']);
    await sleep(500);
    assert.equal(await opensIn(daemon, 'second'), 0, 'the new door does not open before the reload');
    await writeConfig(daemon, first + second);
    await signalDaemon(daemon, 'SIGHUP');
    await waitForOutputText(daemon, /configuration reloaded/);
    await knockWithNfknock(lab, 4, ['7100:udp', '7200:udp']);
    await waitForLog(daemon, 'second: OPEN SESAME');
    await waitForProbe(lab, 4, 'open', 3000);
    await waitForProbe(lab, 4, 'filtered', 6000);
  });

  await t.test('a reload to an NFLOG group another process holds is refused and the old group keeps serving', async () => {
    // Another nfknockd in the same namespace holds group 6.
    const squatter = await startDaemon(lab, second, ['--nflog-group', '6']);
    try {
      await writeConfig(daemon, `[options]\n    NflogGroup = 6\n${first}${second}`);
      await signalDaemon(daemon, 'SIGHUP');
      await waitForOutputText(daemon, /reload refused[^\n]*NFLOG group 6/);
      await knockWithNfknock(lab, 4, SEED);
      await waitForProbe(lab, 4, 'open', 3000);
      await waitForProbe(lab, 4, 'filtered', 6000);
    } finally {
      await squatter.stop();
      await removeDir(squatter.dir);
    }
    await writeConfig(daemon, first + second);
  });

  await t.test('an open door and its pending close survive a reload', async () => {
    const closesBefore = countOf(await daemon.log(), 'command timeout');
    await knockWithNfknock(lab, 4, SEED);
    const openedAt = Date.now();
    await waitForProbe(lab, 4, 'open', 3000);
    // Reload to a config without the door that is open: its stop command must still run.
    await writeConfig(daemon, second);
    await signalDaemon(daemon, 'SIGHUP');
    await waitForOutputText(daemon, /configuration reloaded[\s\S]*configuration reloaded/);
    assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 300), 'open', 'a reload closes nothing by itself');
    await waitForProbe(lab, 4, 'filtered', 6000);
    const closedAfter = Date.now() - openedAt;
    assert.ok(closedAfter >= 1500, `closed on time, not at the reload (${closedAfter} ms)`);
    await waitForLog(daemon, 'command timeout', { times: closesBefore + 1 });
    // And the removed door no longer opens.
    const opens = await opensIn(daemon, 'openSSH');
    await knockWithNfknock(lab, 4, SEED);
    await sleep(500);
    assert.equal(await opensIn(daemon, 'openSSH'), opens);
  });
});
