import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, e2eGate, sleep, type Lab } from '../helpers/lab.js';
import { SERVICE_PORT, knockWithNfknock, loadGeneratedFirewall, removeDir, startDaemon, waitForProbe, type RunningDaemon, opensIn } from '../helpers/daemon-lab.js';
import { serviceDoor, waitForLog } from '../helpers/hardening-lab.js';
import type { KnockStep } from '../../src/core/types.js';

const gate = e2eGate();

const FIRST = ['7001:udp', '7002:udp', '7003:udp'];
const SECOND = ['7011:udp', '7012:udp', '7013:udp'];
const OTHER = ['7500:udp', '7600:udp'];
const sequenceFile = `# one-time sequences for [once]\n${FIRST.join(',')}\n\n${SECOND.join(',')}\n`;

function oneTimeConf(dir: string): string {
  const rule = (verb: string) => `iptables ${verb} INPUT -s %IP% -p tcp --dport ${SERVICE_PORT} -j ACCEPT`;
  return [
    '[once]',
    `    One_Time_Sequences = ${join(dir, 'once.seq')}`,
    '    seq_timeout        = 5',
    `    start_command      = ${rule('-I')}`,
    '    cmd_timeout        = 1',
    `    stop_command       = ${rule('-D')}`,
    '',
    serviceDoor('other', OTHER.join(','), { cmdTimeout: 1 }),
  ].join('\n');
}

const steps = (list: string[]): KnockStep[] => list.map((s) => ({ port: Number(s.split(':')[0]), protocol: 'udp' }));

async function prepare(lab: Lab, dir: string): Promise<string> {
  const conf = oneTimeConf(dir);
  await writeFile(join(dir, 'once.seq'), sequenceFile, { mode: 0o600 });
  // The firewall marks the ports of both sequences (nfknock rules would mark only the unused ones).
  await loadGeneratedFirewall(lab, conf, { family: 4, oneTimeSteps: new Map([['once', [...steps(FIRST), ...steps(SECOND)]]]) });
  await lab.startTcpService(SERVICE_PORT, 4);
  return conf;
}


async function opensOnce(lab: Lab, daemon: RunningDaemon, sequence: string[]): Promise<void> {
  const before = await opensIn(daemon, 'once');
  await knockWithNfknock(lab, 4, sequence);
  await waitForLog(daemon, 'once: OPEN SESAME', { times: before + 1 });
  await waitForProbe(lab, 4, 'open', 3000);
  await waitForProbe(lab, 4, 'filtered', 4000);
}

async function opensNothing(lab: Lab, daemon: RunningDaemon, sequence: string[]): Promise<void> {
  const before = await opensIn(daemon, 'once');
  await knockWithNfknock(lab, 4, sequence);
  await sleep(700);
  assert.equal(await opensIn(daemon, 'once'), before, `${sequence.join(',')} opened the door again`);
  assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 300), 'filtered');
}

test('One_Time_Sequences: each line opens once, is commented out, and an exhausted door does not stop the daemon', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lab = await createLab({ name: 'nfkj-once' });
  t.after(() => lab.destroy());
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-e2e-'));
  const conf = await prepare(lab, dir);
  const running = await startDaemon(lab, conf, [], { dir });
  t.after(async () => {
    await running.stop();
    await removeDir(running.dir);
  });

  await opensOnce(lab, running, FIRST);
  const afterFirst = await readFile(join(running.dir, 'once.seq'), 'utf8');
  // The used line's first byte is overwritten with '#', in place, as knockd 0.8 does: "#001:udp,7002:udp,...".
  const burnt = (sequence: string[]) => `#${sequence.join(',').slice(1)}`;
  assert.equal(afterFirst, `# one-time sequences for [once]\n${burnt(FIRST)}\n\n${SECOND.join(',')}\n`);
  await opensNothing(lab, running, FIRST);

  await opensOnce(lab, running, SECOND);
  assert.equal(await readFile(join(running.dir, 'once.seq'), 'utf8'), `# one-time sequences for [once]\n${burnt(FIRST)}\n\n${burnt(SECOND)}\n`);
  await waitForLog(running, 'no more sequences left in the one time sequences file for door once --> disabling the door');
  await opensNothing(lab, running, FIRST);
  await opensNothing(lab, running, SECOND);

  assert.equal(running.child.exitCode, null, `the daemon is still running:\n${running.output()}`);
  await knockWithNfknock(lab, 4, OTHER);
  await waitForLog(running, 'other: OPEN SESAME');
  await waitForProbe(lab, 4, 'open', 3000);
});

test('One_Time_Sequences: a line used before a restart is never used again', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lab = await createLab({ name: 'nfkj-once2' });
  t.after(() => lab.destroy());
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-e2e-'));
  t.after(() => removeDir(dir));
  const conf = await prepare(lab, dir);

  const first = await startDaemon(lab, conf, [], { dir });
  t.after(() => first.stop());
  await opensOnce(lab, first, FIRST);
  await first.stop();

  const second = await startDaemon(lab, conf, [], { dir });
  t.after(() => second.stop());
  await opensNothing(lab, second, FIRST);
  await opensOnce(lab, second, SECOND);
  await second.stop();

  const third = await startDaemon(lab, conf, [], { dir });
  t.after(() => third.stop());
  await waitForLog(third, 'no more sequences left in the one time sequences file for door once');
  await opensNothing(lab, third, FIRST);
  await opensNothing(lab, third, SECOND);
  await knockWithNfknock(lab, 4, OTHER);
  await waitForLog(third, 'other: OPEN SESAME');
});
