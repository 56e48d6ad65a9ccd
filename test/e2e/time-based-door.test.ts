import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, e2eGate, sleep, type Lab } from '../helpers/lab.js';
import { SERVICE_PORT, timedServiceDoor, hpingOnce, loadGeneratedFirewall, nfknockPath, removeDir, startDaemon, waitForProbe, opensIn } from '../helpers/daemon-lab.js';
import { countOf, waitForLog } from '../helpers/hardening-lab.js';
import { deriveSequence, timeStepAt } from '../../src/timeseq/derive.js';
import { parseSecretText } from '../../src/timeseq/secret.js';
import { withinOneStep } from '../helpers/time-steps.js';

const gate = e2eGate({ tools: ['hping3'] });

const DOOR = 'timed';
const PERIOD = 30;
const LENGTH = 3;
const PORTS = '41000-41999';
/** Every knock of one sequence, the replay and the checks must fall in one step. */
const NEEDED_MS = 12_000;

function timedConf(secretFile: string): string {
  return timedServiceDoor(DOOR, secretFile, { ports: PORTS, period: PERIOD, length: LENGTH, cmdTimeout: 2 });
}

async function knockTimed(lab: Lab, secretFile: string): Promise<void> {
  const argv = ['knock', '--secret', secretFile, '--door', DOOR, '--ports', PORTS, '--length', String(LENGTH), '--period', String(PERIOD), '--protocols', 'udp'];
  await lab.execOk('client', [process.execPath, nfknockPath, ...argv, lab.serverAddress(4)]);
}


test('time-based door: the client opens it, a replay from another address and a wrong secret open nothing', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lab = await createLab({ name: 'nfkj-time' });
  t.after(() => lab.destroy());
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-e2e-'));
  t.after(() => removeDir(dir));
  const secretFile = join(dir, `${DOOR}.secret`);
  const wrongSecretFile = join(dir, 'wrong.secret');
  for (const file of [secretFile, wrongSecretFile]) {
    await lab.execOk('server', [process.execPath, nfknockPath, 'secret', '--door', DOOR, '--write', file]);
  }
  assert.equal((await stat(secretFile)).mode & 0o777, 0o600, 'nfknock secret --write makes a 0600 file');
  const conf = timedConf(secretFile);
  await loadGeneratedFirewall(lab, conf, { family: 4 });
  await lab.startTcpService(SERVICE_PORT, 4);
  const daemon = await startDaemon(lab, conf);
  t.after(async () => {
    await daemon.stop();
    await removeDir(daemon.dir);
  });
  const client = lab.clientAddress(4);
  const spoofed = client.replace(/\.\d+$/, '.77');
  const opens = () => opensIn(daemon, DOOR);

  const step = await withinOneStep(PERIOD, NEEDED_MS);
  await knockTimed(lab, secretFile);
  await waitForLog(daemon, `${client}: ${DOOR}: OPEN SESAME`);
  await waitForProbe(lab, 4, 'open', 3000);

  // The same sequence, sent again in the same step from another address (spoofed with hping3).
  const secret = parseSecretText(await readFile(secretFile, 'utf8'), secretFile);
  const sequence = deriveSequence({ secret, length: LENGTH, portMin: 41000, portMax: 41999, periodSeconds: PERIOD, protocols: 'udp' }, DOOR, step);
  for (const knock of sequence) await hpingOnce(lab, `${knock.port}:${knock.protocol}`, { source: spoofed });
  const log = await waitForLog(daemon, `${spoofed}: ${DOOR}: sequence step:${step} already used, replay refused`);
  assert.equal(countOf(log, `${spoofed}: ${DOOR}: OPEN SESAME`), 0);
  assert.doesNotMatch(await lab.iptablesRules(4), new RegExp(`-s ${spoofed.replaceAll('.', '\\.')}/32`), 'no rule for the replaying address');
  assert.equal(timeStepAt(Date.now(), PERIOD), step, 'the replay was sent in the same step');
  await waitForProbe(lab, 4, 'filtered', 5000);

  // A wrong secret derives other ports in the same range: nothing opens.
  const before = await opens();
  await knockTimed(lab, wrongSecretFile);
  await sleep(700);
  assert.equal(await opens(), before, 'a wrong secret opened the door');
  assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 300), 'filtered');
  t.diagnostic(`step ${step}, sequence ${sequence.map((k) => `${k.port}:${k.protocol}`).join(',')}`);
});
