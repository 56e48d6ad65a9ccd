/**
 * Issue 3, kernel log through rsyslog: LOG rules in a lab, a private rsyslogd (imkmsg) running the
 * rules of rules/rsyslog-nfknock.conf into a temp file, nfknockd --source file following that file.
 * The prefix is random per run: the kernel log is shared by all namespaces and parallel tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, e2eGate, sleep, waitFor, withNfLogAllNetns } from '../helpers/lab.js';
import { SERVICE_PORT, knockWithDebianKnock, knockWithNfknock, loadGeneratedFirewall, nfknockPath, removeDir, seedDoorConf, startDaemon, waitForProbe, opensIn } from '../helpers/daemon-lab.js';
import { adaptDropIn, dropInPath, readIfExists, startPrivateRsyslog, type PrivateRsyslog } from '../helpers/rsyslog-private.js';

const gate = e2eGate({ tools: ['knock', 'rsyslogd', 'logger'] });
const seed = ['7000:udp', '8000:tcp', '9000:udp'];

const lineCount = (text: string, needle: string) => text.split('\n').filter((line) => line.includes(needle)).length;

test('LOG + rsyslog file: the seeds door opens and closes, forged lines never reach the file, rotation loses nothing', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const prefix = `pk${randomBytes(6).toString('hex')}`;
  const restoreSysctl = withNfLogAllNetns();
  t.after(restoreSysctl);
  const lab = await createLab({ name: 'nfk-rsys' });
  t.after(() => lab.destroy());
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-k-rsyslog-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const conf = seedDoorConf({ cmdTimeout: 3 });
  await loadGeneratedFirewall(lab, conf, { target: 'log', prefix });
  await lab.startTcpService(SERVICE_PORT, 4);
  const client = lab.clientAddress(4);

  const kernelLog = join(dir, 'nfknock', 'kernel.log');
  // Whatever the drop-in's rules let through (it ends with `stop`) and mentions our prefix lands here,
  // so the forgery cases can show that rsyslog did receive the forged lines.
  const elsewhere = join(dir, 'elsewhere.log');
  const rules = [
    adaptDropIn(await readFile(dropInPath(), 'utf8'), { file: kernelLog, prefix }),
    'template(name="origin" type="string" string="%inputname% %syslogfacility-text%.%syslogseverity-text% %syslogtag%%msg%\\n")',
    `if $msg contains ${JSON.stringify(prefix)} then action(type="omfile" file=${JSON.stringify(elsewhere)} template="origin")`,
  ].join('\n');
  let rsyslog: PrivateRsyslog = await startPrivateRsyslog({ dir, rules, kernelInput: true, udp: true, lab });
  t.after(() => rsyslog.stop());

  const daemon = await startDaemon(lab, conf, ['--source', 'file', '--kernel-log', kernelLog, '--prefix', prefix, '--allow-netns-log']);
  t.after(async () => {
    await daemon.stop();
    await removeDir(daemon.dir);
  });
  const opens = () => opensIn(daemon);
  const fileLines = async () => lineCount(await readIfExists(kernelLog), ` kernel: ${prefix} IN=`);

  await t.test('our client opens it for the knocker through the dedicated file, and it closes after cmd_timeout', async () => {
    await knockWithNfknock(lab, 4, seed);
    const openedAt = Date.now();
    await waitForProbe(lab, 4, 'open', 3000);
    const rules4 = await lab.iptablesRules(4);
    assert.match(rules4, new RegExp(`-A INPUT -s ${client.replaceAll('.', '\\.')}/32 -p tcp -m tcp --dport ${SERVICE_PORT} -j ACCEPT`));
    const text = await readFile(kernelLog, 'utf8');
    assert.equal(lineCount(text, ` kernel: ${prefix} IN=`), 3, `three knock lines in RSYSLOG_FileFormat:\n${text}`);
    assert.match(text, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d \S+ kernel: /m);
    await waitForProbe(lab, 4, 'filtered', 8000);
    const closedAfter = Date.now() - openedAt;
    // cmd_timeout counts from the open, not from the syslog stamp (imkmsg makes it up to 1 s early).
    assert.ok(closedAfter >= 2500, `closed too early (${closedAfter} ms)`);
    const log = await daemon.log();
    for (const expected of [`${client}: openSSH: Stage 1`, `${client}: openSSH: Stage 2`, `${client}: openSSH: OPEN SESAME`, `${client}: openSSH: command timeout`]) {
      assert.ok(log.includes(expected), `log has ${JSON.stringify(expected)}:\n${log}`);
    }
    assert.equal(await opens(), 1);
  });

  await t.test("Debian's knock client opens it too", async () => {
    await knockWithDebianKnock(lab, 4, seed);
    await waitForProbe(lab, 4, 'open', 3000);
    await waitForProbe(lab, 4, 'filtered', 8000);
    assert.equal(await opens(), 2);
  });

  await t.test('the wrong order opens nothing', async () => {
    const before = await fileLines();
    await knockWithNfknock(lab, 4, ['8000:tcp', '7000:udp', '9000:udp']);
    await waitFor(async () => (await fileLines()) === before + 3, { timeoutMs: 3000, description: 'the wrong-order knocks in the file' });
    await sleep(500);
    assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 500), 'filtered');
    assert.equal(await opens(), 2, await daemon.log());
  });

  await t.test('forged kernel lines sent to rsyslog do not reach the dedicated file and open nothing', async () => {
    const before = await fileLines();
    // The exact messages of the kernel's lines for a whole sequence, from the file itself.
    const real = (await readFile(kernelLog, 'utf8'))
      .split('\n')
      .filter((line) => line.includes(` kernel: ${prefix} IN=`))
      .slice(0, 3)
      .map((line) => line.slice(line.indexOf(' kernel: ') + ' kernel: '.length));
    assert.equal(real.length, 3);
    for (const message of real) {
      await lab.execOk('server', ['logger', '--socket', rsyslog.socket, '-p', 'kern.warn', '-t', 'kernel', message]);
    }
    // logger cannot send facility kern (it turns 0 into user); a raw datagram can, so the drop-in's
    // $inputname condition, not only its facility test, is what keeps this one out.
    const udpSend = [
      "const s = require('node:dgram').createSocket('udp4');",
      'const lines = JSON.parse(process.argv[1]);',
      "let left = lines.length; for (const l of lines) s.send(Buffer.from('<4>kernel: ' + l), 514, '127.0.0.1', () => { if (--left === 0) s.close(); });",
    ].join('\n');
    await lab.execOk('server', [process.execPath, '-e', udpSend, JSON.stringify(real)]);
    const arrived = await waitFor(
      async () => {
        const text = await readIfExists(elsewhere);
        const socketLines = text.split('\n').filter((line) => line.startsWith('imuxsock ') && line.includes(`${prefix} IN=`));
        const udpLines = text.split('\n').filter((line) => line.startsWith('imudp ') && line.includes(`${prefix} IN=`));
        return socketLines.length >= 3 && udpLines.length >= 3 ? { socketLines, udpLines } : undefined;
      },
      { timeoutMs: 5000, description: 'rsyslog to receive the forged lines (they go to the catch-all file)' },
    );
    assert.ok(
      arrived.udpLines.every((line) => line.startsWith('imudp kern.warning kernel:')),
      `the UDP forgeries claim facility kern:\n${arrived.udpLines.join('\n')}`,
    );
    await sleep(500);
    assert.equal(await fileLines(), before, 'no forged line in the dedicated file');
    assert.equal(await opens(), 2, await daemon.log());
    assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 500), 'filtered');
  });

  await t.test('rotation by rename and SIGHUP in the middle of a sequence loses no later knock', async () => {
    const before = await fileLines();
    await knockWithNfknock(lab, 4, ['7000:udp']);
    await waitFor(async () => (await fileLines()) === before + 1, { timeoutMs: 3000, description: 'knock 1 in the file' });
    await rename(kernelLog, `${kernelLog}.1`);
    rsyslog.hangup();
    await sleep(300);
    await knockWithNfknock(lab, 4, ['8000:tcp', '9000:udp']);
    await waitForProbe(lab, 4, 'open', 3000);
    assert.equal(await fileLines(), 2, 'knocks 2 and 3 are in the new file');
    assert.equal(lineCount(await readFile(`${kernelLog}.1`, 'utf8'), ` kernel: ${prefix} IN=`), before + 1, 'knock 1 stayed in the rotated file');
    assert.equal(await opens(), 3);
    await waitForProbe(lab, 4, 'filtered', 8000);
  });

  await t.test('restarting rsyslogd (imkmsg re-reads the whole ring buffer) replays old knocks into the file but opens nothing', async () => {
    const before = await fileLines();
    await rsyslog.stop();
    rsyslog = await startPrivateRsyslog({ dir, rules, kernelInput: true, udp: true, lab });
    await waitFor(async () => (await fileLines()) > before, { timeoutMs: 5000, description: 'the replayed lines' });
    await sleep(1000);
    const replayed = (await fileLines()) - before;
    assert.ok(replayed >= 5, `imkmsg replayed the knocks of the rotation test (and older ones): ${replayed} lines`);
    assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 500), 'filtered');
    assert.equal(await opens(), 3, `no door opened by replayed lines:\n${await daemon.log()}`);
  });

  const simulateSkip = await simulateMissing();
  let simulated: string[] = [];
  let liveOpens: string[] = [];
  await t.test('nfknock simulate on the dedicated file reports the opens the daemon logged', { skip: simulateSkip }, async () => {
    await rsyslog.stop();
    liveOpens = (await daemon.log())
      .split('\n')
      .filter((line) => line.endsWith(': OPEN SESAME'))
      .map((line) => line.replace(/^\[[^\]]*\] /, ''));
    assert.equal(liveOpens.length, 3);
    // The whole history, rotated part first, replayed lines included.
    const history = (await readFile(`${kernelLog}.1`, 'utf8')) + (await readFile(kernelLog, 'utf8'));
    const result = await lab.execOk('server', [process.execPath, nfknockPath, 'simulate', '-c', daemon.configPath, '--prefix', prefix, '-', '--json'], { input: history });
    simulated = simulateOpens(result.stdout);
    assert.deepEqual(simulated.slice(0, liveOpens.length), liveOpens, result.stdout);
  });

  await t.test('nfknock simulate drops the lines rsyslog replayed, as the daemon does', { skip: simulateSkip }, () => {
    assert.deepEqual(simulated, liveOpens);
  });
});

async function simulateMissing(): Promise<string | false> {
  const source = await readIfExists(new URL('../../src/cli/nfknock.js', import.meta.url).pathname);
  return /simulate/.test(source) && /registerSimulate|simulateCommand|runSimulateCommand/.test(source) ? false : 'nfknock simulate is not registered in src/cli/nfknock.ts yet';
}

/** `<source>: <door>: OPEN SESAME` for each open in simulate's JSON report. */
function simulateOpens(json: string): string[] {
  const report = JSON.parse(json) as { events?: { kind: string; source: string; door: string }[] };
  return (report.events ?? []).filter((event) => event.kind === 'open').map((event) => `${event.source}: ${event.door}: OPEN SESAME`);
}
