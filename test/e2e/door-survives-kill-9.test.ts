import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLab, e2eGate, waitFor } from '../helpers/lab.js';
import { SERVICE_PORT, knockWithNfknock, loadGeneratedFirewall, removeDir, seedDoorConf, startDaemon, waitForProbe } from '../helpers/daemon-lab.js';

const gate = e2eGate();

test('a door opened before kill -9 of the whole process tree closes on time after restart', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lab = await createLab({ name: 'nfk-kill' });
  t.after(() => lab.destroy());
  const conf = seedDoorConf({ cmdTimeout: 6 });
  await loadGeneratedFirewall(lab, conf, { family: 4 });
  await lab.startTcpService(SERVICE_PORT, 4);
  const first = await startDaemon(lab, conf);
  t.after(() => removeDir(first.dir));
  await knockWithNfknock(lab, 4, ['7000:udp', '8000:tcp', '9000:udp']);
  const openedAt = Date.now();
  await waitForProbe(lab, 4, 'open', 3000);
  const state = await waitFor(async () => {
    const files = await readFile(join(first.stateDir, 'pending-closes.json'), 'utf8').catch(() => '');
    return files.includes(lab.clientAddress(4)) ? files : undefined;
  }, { timeoutMs: 2000 }).catch(() => undefined);
  process.kill(-(first.child.pid as number), 'SIGKILL');
  await waitFor(() => first.child.exitCode !== null || first.child.signalCode !== null, { timeoutMs: 3000 });
  assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 500), 'open', 'killing the daemon does not close the door by itself');

  const second = await startDaemon(lab, conf, [], { dir: first.dir });
  t.after(() => second.stop());
  await waitForProbe(lab, 4, 'filtered', 10_000);
  const closedAfter = Date.now() - openedAt;
  assert.ok(closedAfter >= 5000, `closed on time, not at start-up (${closedAfter} ms)`);
  assert.ok(state === undefined || state.includes('iptables -D INPUT'), 'the state file holds the substituted stop command');
  assert.match(await second.log(), /command timeout/);
});

test('a door whose close fell due while the daemon was down closes as soon as it starts', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lab = await createLab({ name: 'nfk-late' });
  t.after(() => lab.destroy());
  const conf = seedDoorConf({ cmdTimeout: 2 });
  await loadGeneratedFirewall(lab, conf, { family: 4 });
  await lab.startTcpService(SERVICE_PORT, 4);
  const first = await startDaemon(lab, conf);
  t.after(() => removeDir(first.dir));
  await knockWithNfknock(lab, 4, ['7000:udp', '8000:tcp', '9000:udp']);
  await waitForProbe(lab, 4, 'open', 3000);
  process.kill(-(first.child.pid as number), 'SIGKILL');
  await waitFor(() => first.child.exitCode !== null || first.child.signalCode !== null, { timeoutMs: 3000 });
  await new Promise((resolve) => setTimeout(resolve, 3000));
  assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 500), 'open', 'still open while nobody watches');
  const second = await startDaemon(lab, conf, [], { dir: first.dir });
  t.after(() => second.stop());
  await waitForProbe(lab, 4, 'filtered', 2000);
});
