/**
 * Issue 3, kernel log over /dev/kmsg: the seeds door behind LOG rules, nfknockd --source kmsg.
 * Every test uses its own random prefix: the kernel log is one ring buffer for all namespaces and
 * other tests may knock at the same time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, openSync, readSync, writeFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, e2eGate, sleep, waitFor, withNfLogAllNetns } from '../helpers/lab.js';
import { SERVICE_PORT, knockWithDebianKnock, knockWithNfknock, loadGeneratedFirewall, removeDir, seedDoorConf, startDaemon, waitForProbe, opensIn } from '../helpers/daemon-lab.js';
import { startPrivateRsyslog } from '../helpers/rsyslog-private.js';

const gate = e2eGate({ tools: ['knock', 'rsyslogd', 'logger'] });
const seed = ['7000:udp', '8000:tcp', '9000:udp'];

/** Messages of every record now in the kernel ring buffer that start with `prefix`. */
function kernelLogLines(prefix: string): { facility: number; message: string }[] {
  const fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
  const buffer = Buffer.alloc(16 * 1024);
  const found: { facility: number; message: string }[] = [];
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buffer, 0, buffer.length, null);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') continue; // overwritten while we read: go on from the oldest
        if (code === 'EAGAIN') break;
        throw error;
      }
      if (n === 0) break;
      const record = buffer.toString('latin1', 0, n);
      const semicolon = record.indexOf(';');
      const message = record.slice(semicolon + 1).split('\n')[0] ?? '';
      if (message.startsWith(prefix)) found.push({ facility: Number(record.split(',')[0]) >> 3, message });
    }
  } finally {
    closeSync(fd);
  }
  return found;
}

interface DroppedInput {
  reason: string;
  detail?: string;
}

/** The daemon's `-D` "input dropped" records (pino JSON on its output). */
function droppedInputs(output: string): DroppedInput[] {
  const dropped: DroppedInput[] = [];
  for (const line of output.split('\n')) {
    if (!line.includes('"input dropped"')) continue;
    try {
      dropped.push(JSON.parse(line) as DroppedInput);
    } catch {
      // a line cut by the output buffer
    }
  }
  return dropped;
}

test('LOG + kmsg: the seeds door opens for real knocks only, never for old or forged lines', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const prefix = `pk${randomBytes(6).toString('hex')}`;
  const restoreSysctl = withNfLogAllNetns();
  t.after(restoreSysctl);
  const lab = await createLab({ name: 'nfk-kmsg' });
  t.after(() => lab.destroy());
  const conf = seedDoorConf({ cmdTimeout: 3 });
  await loadGeneratedFirewall(lab, conf, { target: 'log', prefix });
  await lab.startTcpService(SERVICE_PORT, 4);
  const client = lab.clientAddress(4);

  // A whole sequence logged before the daemon starts: the ring buffer still holds it afterwards.
  await knockWithNfknock(lab, 4, seed);
  const realLines = await waitFor(
    () => {
      const lines = kernelLogLines(prefix);
      return lines.length >= 3 ? lines : undefined;
    },
    { timeoutMs: 3000, description: 'the three knock lines in the kernel log (is nf_log_all_netns honoured?)' },
  );
  assert.equal(realLines.length, 3, 'one LOG line per knock packet');
  for (const line of realLines) {
    assert.equal(line.facility, 0, 'printed by the kernel');
    assert.ok(line.message.startsWith(`${prefix} IN=`) && line.message.includes(`SRC=${client} `), line.message);
  }

  const daemon = await startDaemon(lab, conf, ['--source', 'kmsg', '--prefix', prefix, '--allow-netns-log']);
  t.after(async () => {
    await daemon.stop();
    await removeDir(daemon.dir);
  });
  const opens = () => opensIn(daemon);

  await t.test('knocks logged before the daemon started open nothing, not even as a first stage', async () => {
    // The last step again, well within seq_timeout of the old ones: only a replay could complete it.
    await knockWithNfknock(lab, 4, ['9000:udp']);
    await sleep(700);
    assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 500), 'filtered');
    const log = await daemon.log();
    assert.equal(await opens(), 0, log);
    assert.doesNotMatch(log, /Stage/, 'no stage from records older than the daemon');
  });

  await t.test('forged knock lines in the kernel log open nothing', async (st) => {
    const forged = realLines.map((line) => line.message);
    // Userspace writing to /dev/kmsg directly, bare and claiming kernel priorities.
    for (const message of forged) {
      writeFileSync('/dev/kmsg', `${message}\n`);
      writeFileSync('/dev/kmsg', `<4>${message}\n`);
      writeFileSync('/dev/kmsg', `<0>${message}\n`);
    }
    // logger(1): nothing forwards syslog to the kernel log here (no /dev/log), so this test brings its
    // own forwarder, like journald's ForwardToKMsg=yes: a private rsyslogd writing each message to /dev/kmsg.
    const dir = await mkdtemp(join(tmpdir(), 'nfknock-k-fwd-'));
    st.after(() => rm(dir, { recursive: true, force: true }));
    const forwarder = join(dir, 'to-kmsg.sh');
    await writeFile(forwarder, '#!/bin/sh\nwhile IFS= read -r line; do printf "%s\\n" "$line" > /dev/kmsg; done\n');
    await chmod(forwarder, 0o755);
    const rsyslog = await startPrivateRsyslog({
      dir,
      rules: [
        'module(load="omprog")',
        // %msg% keeps the space after "kernel:"; drop it so the kernel log gets the exact knock text.
        'template(name="toKmsg" type="string" string="<%pri%>%msg:2:$%\\n")',
        `action(type="omprog" binary=${JSON.stringify(forwarder)} template="toKmsg")`,
      ].join('\n'),
    });
    st.after(() => rsyslog.stop());
    for (const message of forged) {
      await lab.execOk('server', ['logger', '--socket', rsyslog.socket, '-p', 'kern.warn', '-t', 'kernel', message]);
    }
    const written = forged.length * 4;
    const forgedInKernelLog = await waitFor(
      () => {
        const lines = kernelLogLines(prefix).filter((line) => line.facility !== 0);
        return lines.length >= written ? lines : undefined;
      },
      { timeoutMs: 5000, description: `${written} forged lines in the kernel log` },
    );
    assert.equal(forgedInKernelLog.length, written, 'each forged line reached the kernel log, as facility user');
    assert.deepEqual(new Set(forgedInKernelLog.map((line) => line.message)), new Set(forged), 'with the exact text of the real lines');
    await sleep(500);
    assert.equal(await opens(), 0, await daemon.log());
    assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 500), 'filtered');
    // Not vacuous: the daemon read every forged record and dropped it for not coming from the kernel.
    const dropped = droppedInputs(daemon.output()).filter((d) => d.reason === 'not-kernel' && d.detail?.startsWith(prefix));
    assert.equal(dropped.length, written, 'every forged record dropped as not-kernel');
  });

  await t.test('our client opens it for the knocker, and it closes after cmd_timeout', async () => {
    await knockWithNfknock(lab, 4, seed);
    const openedAt = Date.now();
    await waitForProbe(lab, 4, 'open', 3000);
    const rules = await lab.iptablesRules(4);
    assert.match(rules, new RegExp(`-A INPUT -s ${client.replaceAll('.', '\\.')}/32 -p tcp -m tcp --dport ${SERVICE_PORT} -j ACCEPT`));
    await waitForProbe(lab, 4, 'filtered', 8000);
    const closedAfter = Date.now() - openedAt;
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
    await knockWithNfknock(lab, 4, ['8000:tcp', '7000:udp', '9000:udp']);
    await knockWithNfknock(lab, 4, ['9000:udp', '8000:tcp', '7000:udp']);
    await sleep(700);
    assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 500), 'filtered');
    assert.equal(await opens(), 2, await daemon.log());
  });
});
