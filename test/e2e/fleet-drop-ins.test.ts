/**
 * Drop-in doors (issue 16): doors split across two `Include` files both open; a broken drop-in stops
 * the daemon at start with the drop-in's own file:line, and on SIGHUP is refused while the old doors
 * keep working.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, e2eGate, outputOf, waitFor } from '../helpers/lab.js';
import { SERVICE_PORT, knockWithNfknock, loadGeneratedFirewall, nfknockdPath, removeDir, startDaemon, waitForProbe } from '../helpers/daemon-lab.js';
import { SEED, serviceDoor, signalDaemon, waitForLog, waitForOutputText } from '../helpers/hardening-lab.js';

const gate = e2eGate();
const OTHER = ['7100:udp', '7200:udp'];
/** Line 4 of the drop-in: Cmd_Timeout is not a number. */
const BROKEN = '# a typo in a fleet template\n[broken]\n    sequence = 7300:udp,7400:udp\n    cmd_timeout = 10s\n    start_command = true\n';

test('doors from two drop-in files open; a broken drop-in is refused at start and on SIGHUP with its own file:line', { skip: gate.skip, timeout: 90_000 }, async (t) => {
  const lab = await createLab({ name: 'nfkj-dropin' });
  t.after(() => lab.destroy());
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-e2e-'));
  t.after(() => removeDir(dir));
  const doorsDir = join(dir, 'doors.d');
  await mkdir(doorsDir, { mode: 0o700 });
  const web = serviceDoor('web', SEED.join(','), { cmdTimeout: 2 });
  const db = serviceDoor('db', OTHER.join(','), { cmdTimeout: 2 });
  await writeFile(join(doorsDir, '10-web.conf'), web, { mode: 0o600 });
  await writeFile(join(doorsDir, '20-db.conf'), db, { mode: 0o600 });
  await writeFile(join(doorsDir, 'notes.txt'), '[ignored]\n', { mode: 0o600 });
  const main = `[options]\n    Include = ${doorsDir}/*.conf\n`;
  await loadGeneratedFirewall(lab, web + db, { family: 4 });
  await lab.startTcpService(SERVICE_PORT, 4);

  await t.test('a broken drop-in stops the daemon at start, named with its own file and line', async () => {
    await writeFile(join(doorsDir, '30-broken.conf'), BROKEN, { mode: 0o600 });
    await writeFile(join(dir, 'knockd.conf'), main, { mode: 0o600 });
    const child = lab.spawn('server', [process.execPath, nfknockdPath, '-c', join(dir, 'knockd.conf'), '--state-dir', join(dir, 'state')]);
    await waitFor(() => child.exitCode !== null, { timeoutMs: 10_000, description: 'nfknockd to refuse the config' });
    assert.equal(child.exitCode, 78, outputOf(child));
    assert.match(outputOf(child), new RegExp(`${doorsDir}/30-broken\\.conf:4: Cmd_Timeout must be a whole number`));
    await rm(join(doorsDir, '30-broken.conf'));
  });

  const daemon = await startDaemon(lab, main, [], { dir });
  t.after(() => daemon.stop());

  await t.test('each drop-in door opens the service', async () => {
    await knockWithNfknock(lab, 4, SEED);
    await waitForLog(daemon, 'web: OPEN SESAME');
    await waitForProbe(lab, 4, 'open', 3000);
    await waitForProbe(lab, 4, 'filtered', 6000);
    await knockWithNfknock(lab, 4, OTHER);
    await waitForLog(daemon, 'db: OPEN SESAME');
    await waitForProbe(lab, 4, 'open', 3000);
    await waitForProbe(lab, 4, 'filtered', 6000);
  });

  await t.test('a broken drop-in refuses the whole reload and the old doors keep opening', async () => {
    await writeFile(join(doorsDir, '30-broken.conf'), BROKEN, { mode: 0o600 });
    // A valid change in the same reload must not be half-applied: db's drop-in is removed.
    await rm(join(doorsDir, '20-db.conf'));
    await signalDaemon(daemon, 'SIGHUP');
    const output = await waitForOutputText(daemon, /reload refused/);
    assert.match(output, new RegExp(`reload refused, still running the previous configuration: [^"]*${doorsDir}/30-broken\\.conf:4: `));
    await knockWithNfknock(lab, 4, OTHER);
    await waitForLog(daemon, 'db: OPEN SESAME', { times: 2 });
    await waitForProbe(lab, 4, 'open', 3000);
    await waitForProbe(lab, 4, 'filtered', 6000);
  });
});
