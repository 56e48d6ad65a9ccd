import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, e2eGate, type Lab, type LabFamily } from '../helpers/lab.js';
import { SERVICE_PORT, loadGeneratedFirewall, nfknockPath, removeDir, seedDoorConf, startDaemon, timedServiceDoor, waitForProbe, type RunningDaemon } from '../helpers/daemon-lab.js';
import { countOf, waitForLog } from '../helpers/hardening-lab.js';
import { withinOneStep } from '../helpers/time-steps.js';

/**
 * issue 17, as a user would do it from the client namespace: `nfknock connect` as ssh's ProxyCommand,
 * aliases of a client.conf, `knock HOST $(nfknock sequence ...)` with Debian's knock, and
 * `--all-families` against a name with both an A and an AAAA entry.
 */
const gate = e2eGate({ tools: ['knock', 'unshare', 'mount'] });

const SEED = ['7000:udp', '8000:tcp', '9000:udp'];
const PERIOD = 30;
/** Deriving, knocking and the daemon's log line must all fall in one step. */
const NEEDED_MS = 10_000;

/** Runs a script in the client namespace through `sh -c` ($0 is args[0]), so pipes and $(...) are the shell's own. */
function shell(lab: Lab, script: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return lab.exec('client', ['sh', '-c', script, ...args], { env, timeoutMs: 30_000 });
}

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-e2e-client-'));
  t.after(() => removeDir(dir));
  return dir;
}

/** The generated default-deny firewall, the lab's TCP service and nfknockd on `conf`, stopped after the test. */
async function serveDoors(t: { after(fn: () => Promise<void>): void }, lab: Lab, conf: string, families: LabFamily[]): Promise<RunningDaemon> {
  for (const family of families) await loadGeneratedFirewall(lab, conf, { family });
  for (const family of families) await lab.startTcpService(SERVICE_PORT, family);
  const daemon = await startDaemon(lab, conf);
  t.after(async () => {
    await daemon.stop();
    await removeDir(daemon.dir);
  });
  return daemon;
}

test('connect: `echo | nfknock connect SERVER 2222 -- 7000:udp 8000:tcp 9000:udp` prints the service greeting; a wrong sequence fails clearly', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lab = await createLab({ name: 'nfk-conn' });
  t.after(() => lab.destroy());
  const conf = seedDoorConf();
  const daemon = await serveDoors(t, lab, conf, [4]);
  const server = lab.serverAddress(4);
  const connect = 'echo | "$0" "$@"';

  const wrong = await shell(lab, connect, [process.execPath, nfknockPath, 'connect', '--wait', '2', server, String(SERVICE_PORT), '--', '7000:udp', '8000:tcp', '9001:udp']);
  assert.equal(wrong.code, 75, `exit status (EX_TEMPFAIL); stderr: ${wrong.stderr}`);
  assert.equal(wrong.stdout, '');
  assert.match(wrong.stderr, new RegExp(`^nfknock: ${server.replaceAll('.', '\\.')}:${SERVICE_PORT} did not accept a connection within 2 s of the knock \\(last attempt: no answer \\(filtered\\)\\)`));
  assert.equal(countOf(await daemon.log(), 'OPEN SESAME'), 0);

  const right = await shell(lab, connect, [process.execPath, nfknockPath, 'connect', server, String(SERVICE_PORT), '--', ...SEED]);
  assert.equal(right.code, 0, right.stderr);
  assert.equal(right.stdout, 'hello\n', 'the lab service\'s greeting, through nfknock connect');
  assert.equal(right.stderr, '');
  await waitForLog(daemon, `${lab.clientAddress(4)}: openSSH: OPEN SESAME`);
});

test('client.conf aliases open a fixed and a time-based door; Debian\'s knock opens one with `nfknock sequence`', { skip: gate.skip, timeout: 90_000 }, async (t) => {
  const lab = await createLab({ name: 'nfk-alias' });
  t.after(() => lab.destroy());
  const dir = await tempDir(t);
  const secrets = { timed: join(dir, 'timed.secret'), byknock: join(dir, 'byknock.secret') };
  for (const [door, file] of Object.entries(secrets)) await lab.execOk('server', [process.execPath, nfknockPath, 'secret', '--door', door, '--write', file]);
  const conf = [
    seedDoorConf({ name: 'fixed' }),
    timedServiceDoor('timed', secrets.timed, { ports: '41000-41999', period: PERIOD }),
    timedServiceDoor('byknock', secrets.byknock, { ports: '42000-42999', period: PERIOD }),
  ].join('\n');
  const daemon = await serveDoors(t, lab, conf, [4]);
  const client = lab.clientAddress(4);
  const alias = (name: string, keys: string[]) => [`[${name}]`, `    address = ${lab.serverAddress(4)}`, ...keys.map((key) => `    ${key}`)];
  const clientConf = [
    '# nfknock client config: knockd.conf syntax',
    ...alias('office', ['Sequence = 7000:udp,8000:tcp,9000:udp', 'Delay = 20', 'Family = 4']),
    ...alias('rotating', ['Door = timed', `Sequence_Secret = @${secrets.timed}`, 'Sequence_Ports = 41000-41999', 'Sequence_Length = 3', `Sequence_Period = ${PERIOD}`, 'Sequence_Protocols = udp']),
    ...alias('phone', ['DOOR = byknock', `sequence_secret = @${secrets.byknock}`, 'sequence_ports = 42000-42999', 'sequence_length = 3', 'sequence_protocols = UDP']),
    '',
  ].join('\n');
  // The default location, found through XDG_CONFIG_HOME; `-F` names the same file below.
  await mkdir(join(dir, 'nfknock'));
  const clientConfPath = join(dir, 'nfknock', 'client.conf');
  await writeFile(clientConfPath, clientConf, { mode: 0o600 });

  await lab.execOk('client', [process.execPath, nfknockPath, 'knock', 'office'], { env: { XDG_CONFIG_HOME: dir } });
  await waitForLog(daemon, `${client}: fixed: OPEN SESAME`);

  await withinOneStep(PERIOD, NEEDED_MS);
  await lab.execOk('client', [process.execPath, nfknockPath, 'knock', '-F', clientConfPath, 'rotating']);
  await waitForLog(daemon, `${client}: timed: OPEN SESAME`);

  await withinOneStep(PERIOD, NEEDED_MS);
  const sequence = await lab.execOk('client', [process.execPath, nfknockPath, 'sequence', '-F', clientConfPath, 'phone']);
  assert.match(sequence.stdout, /^42\d\d\d:udp 42\d\d\d:udp 42\d\d\d:udp\n$/);
  assert.match(sequence.stderr, /^nfknock: \d+ s left in this step/);
  assert.equal(countOf(await daemon.log(), 'byknock: OPEN SESAME'), 0);
  const knocked = await shell(lab, 'knock -v "$0" $("$1" "$2" sequence -F "$3" phone)', [lab.serverAddress(4), process.execPath, nfknockPath, clientConfPath]);
  assert.equal(knocked.code, 0, knocked.stderr);
  assert.equal(knocked.stdout.trim().split('\n').length, 3, `Debian's knock sent three knocks: ${knocked.stdout}`);
  await waitForLog(daemon, `${client}: byknock: OPEN SESAME`);

  // A secret file the group can read is refused like the server refuses it, and nothing is sent.
  const loose = join(dir, 'loose.conf');
  await writeFile(loose, alias('loose', [`Sequence_Secret = @${join(dir, 'loose.secret')}`, 'Sequence_Ports = 42000-42999']).join('\n'), { mode: 0o600 });
  await writeFile(join(dir, 'loose.secret'), '', { mode: 0o644 });
  const refused = await lab.exec('client', [process.execPath, nfknockPath, 'knock', '-F', loose, 'loose']);
  assert.equal(refused.code, 78, refused.stderr);
  assert.match(refused.stderr, new RegExp(`${loose.replaceAll('.', '\\.')}:3: door \\[loose\\]: secret file .* can be read by group/other \\(mode 0644\\)`));
});

test('--all-families knocks over IPv4 and IPv6 for a name with both (an /etc/hosts entry in the client namespace)', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lab = await createLab({ name: 'nfk-both' });
  t.after(() => lab.destroy());
  const v4 = (verb: string) => `iptables ${verb} INPUT -s %IP% -p tcp --dport ${SERVICE_PORT} -j ACCEPT`;
  const v6 = (verb: string) => `ip6tables ${verb} INPUT -s %IP% -p tcp --dport ${SERVICE_PORT} -j ACCEPT`;
  const conf = [
    '[openSSH]',
    `    sequence        = ${SEED.join(',')}`,
    '    seq_timeout     = 5',
    `    start_command   = ${v4('-I')}`,
    `    start_command_6 = ${v6('-I')}`,
    '    cmd_timeout     = 20',
    `    stop_command    = ${v4('-D')}`,
    `    stop_command_6  = ${v6('-D')}`,
    '',
  ].join('\n');
  const daemon = await serveDoors(t, lab, conf, [4, 6]);
  const dir = await tempDir(t);
  const hosts = join(dir, 'hosts');
  await writeFile(hosts, `127.0.0.1 localhost\n${lab.serverAddress(4)} server.lab.test\n${lab.serverAddress(6)} server.lab.test\n`);
  // A private mount namespace inside the client's network namespace: the host's /etc/hosts is never touched.
  const withHosts = 'mount --bind "$0" /etc/hosts && exec "$@"';
  const inHosts = (argv: string[]) => lab.exec('client', ['unshare', '-m', '--propagation', 'private', 'sh', '-c', withHosts, hosts, ...argv], { timeoutMs: 30_000 });

  const resolved = await inHosts(['getent', 'ahosts', 'server.lab.test']);
  assert.match(resolved.stdout, new RegExp(lab.serverAddress(4).replaceAll('.', '\\.')), resolved.stdout + resolved.stderr);
  assert.match(resolved.stdout, new RegExp(lab.serverAddress(6)), 'the name has both families inside the client namespace');

  // Without the flag only getaddrinfo's first answer is knocked, as knock(1) does.
  const firstOnly = await inHosts([process.execPath, nfknockPath, 'knock', '-v', 'server.lab.test', ...SEED]);
  assert.equal(firstOnly.code, 0, firstOnly.stderr);
  const firstFamily = firstOnly.stdout.includes(lab.serverAddress(6)) ? 6 : 4;
  await waitForProbe(lab, firstFamily, 'open', 3000);
  assert.equal(await lab.probeTcp(SERVICE_PORT, firstFamily === 6 ? 4 : 6, 400), 'filtered', 'the other family stayed closed');

  const both = await inHosts([process.execPath, nfknockPath, 'knock', '-v', '--all-families', 'server.lab.test', ...SEED]);
  assert.equal(both.code, 0, both.stderr);
  assert.equal(both.stdout.trim().split('\n').length, 2 * SEED.length, both.stdout);
  await waitForLog(daemon, `${lab.clientAddress(4)}: openSSH: OPEN SESAME`);
  await waitForLog(daemon, `${lab.clientAddress(6)}: openSSH: OPEN SESAME`);
  await waitForProbe(lab, 4, 'open', 3000);
  await waitForProbe(lab, 6, 'open', 3000);
});
