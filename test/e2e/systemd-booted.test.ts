/**
 * The .deb and its units under a real, booted systemd (Debian 13 in systemd-nspawn, inside the server
 * namespace of a lab), knocked from the lab's client namespace: install starts nothing; enable; open
 * and close; UseSyslog in the journal under the daemon's pid; LogFile in the LogsDirectory across a
 * rotation; the packaged logrotate file and man pages; reload
 * during start-up and with a broken config; a permanent error does not restart; kill -9 with a door
 * open; a one-time door; /run read-only; a firewall reload with a door open gives no endless alarm;
 * the firewall unit with nft only; upgrade with a door open; remove closes the door; purge.
 * Issue 12 lists the failures this reproduces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, e2eGate, waitFor, type Lab } from '../helpers/lab.js';
import { BootedContainer, cachedRootfs, type RunResult } from '../helpers/booted-container.js';

const gate = e2eGate({ tools: ['systemd-nspawn', 'debootstrap', 'nsenter', 'dpkg-deb', 'lintian', 'strip', 'man', 'logrotate'] });
const repo = fileURLToPath(new URL('../../..', import.meta.url));
const nfknock = join(repo, 'dist/src/cli/nfknock.js');
const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
const PORT = 2222;
const KNOCK = ['7000:udp', '8000:tcp', '9000:udp'];
const ONE_TIME = [['7101:tcp', '7102:tcp', '7103:tcp'], ['7201:tcp', '7202:tcp', '7203:tcp']];

function host(argv: string[], cwd = repo, timeoutMs = 300_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(argv[0] as string, argv.slice(1), { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) || 1 : 0, stdout, stderr });
    });
  });
}

function knockdConf(cmdTimeout: number, options: { broken?: boolean } = {}): string {
  const door = (name: string, extra: string[]) =>
    [`[${name}]`, ...extra, `    start_command = /usr/sbin/iptables -I INPUT -s %IP% -p tcp --dport ${PORT} -j ACCEPT`, `    cmd_timeout = ${cmdTimeout}`, `    stop_command = /usr/sbin/iptables -D INPUT -s %IP% -p tcp --dport ${PORT} -j ACCEPT`].join('\n');
  return [
    '[options]',
    '    UseSyslog',
    '    LogFile = /var/log/nfknock/knockd.log',
    ...(options.broken ? ['    NoSuchOption = 1'] : []),
    door('web', [`    sequence = ${KNOCK.join(',')}`, '    seq_timeout = 10']),
    door('once', ['    one_time_sequences = /var/lib/nfknock/one-time/once', '    seq_timeout = 10']),
    '',
  ].join('\n');
}

class Scenario {
  constructor(
    readonly c: BootedContainer,
    readonly lab: Lab,
  ) {}

  async knock(ports: readonly string[] = KNOCK): Promise<void> {
    const result = await this.lab.exec('client', [process.execPath, nfknock, 'knock', '-d', '50', this.lab.serverAddress(4), ...ports]);
    assert.equal(result.code, 0, result.stderr);
  }

  /** Reloads the daemon with doors that stay open `cmdTimeout` seconds, knocks, and waits for the open. */
  async openWithTimeout(cmdTimeout: number): Promise<void> {
    this.c.writeFile('etc/knockd.conf', knockdConf(cmdTimeout));
    await this.c.execOk(['systemctl', 'reload', 'nfknockd.service']);
    await this.knock();
    await this.waitProbe('open', 5000, 'the door to open');
  }

  async waitProbe(wanted: 'open' | 'filtered', timeoutMs: number, what: string): Promise<void> {
    await waitFor(async () => (await this.lab.probeTcp(PORT, 4, 400)) === wanted, { timeoutMs, intervalMs: 200, description: what });
  }

  async show(unit: string, property: string): Promise<string> {
    return (await this.c.exec(['systemctl', 'show', '-P', property, unit])).stdout.trim();
  }

  async journal(unit: string, since = ''): Promise<string> {
    return (await this.c.exec(['journalctl', '--no-pager', '-o', 'cat', '-u', unit, ...(since ? ['--since', since] : [])])).stdout;
  }

  /** A file of the running system (/run is a tmpfs inside the container, not in the overlay). */
  async cat(path: string): Promise<string | undefined> {
    const result = await this.c.exec(['cat', path]);
    return result.code === 0 ? result.stdout : undefined;
  }

  async openDoors(): Promise<unknown[]> {
    const status = await this.c.execOk(['nfknock', 'status', '--json']);
    const parsed = JSON.parse(status.stdout) as unknown;
    return (parsed as { openDoors: unknown[] }).openDoors;
  }
}

test('the .deb under a booted systemd: install, doors, reloads, crashes, upgrade, remove, purge', { skip: gate.skip, timeout: 20 * 60_000 }, async (t) => {
  const packaged = await host([process.execPath, join(repo, 'dist/scripts/package.js')]);
  assert.equal(packaged.code, 0, `npm run package (lintian must find no error):\n${packaged.stdout}\n${packaged.stderr}`);
  const deb = /\S+\.deb$/m.exec(packaged.stdout)?.[0] as string;
  assert.ok(deb, packaged.stdout);
  for (const page of ['usr/share/man/man8/nfknockd.8.gz', 'usr/share/man/man1/nfknock.1.gz']) {
    const extracted = mkdtempSync('/var/tmp/nfknock-man-');
    t.after(() => rmSync(extracted, { recursive: true, force: true }));
    await host(['dpkg-deb', '-x', deb, extracted]);
    const man = await host(['man', '--warnings', '-l', join(extracted, page)]);
    assert.equal(man.code, 0, man.stderr);
    assert.equal(man.stderr.trim(), '', `man warns about ${page}`);
    assert.match(man.stdout, /SYNOPSIS[\s\S]*OPTIONS/);
    const logrotate = await host(['logrotate', '--debug', join(extracted, 'etc/logrotate.d/nfknock')]);
    assert.equal(logrotate.code, 0, `the packaged logrotate file: ${logrotate.stderr}`);
  }
  // An upgrade needs a newer version: the same files, version +1.
  const upgradeDir = mkdtempSync('/var/tmp/nfknock-upgrade-');
  t.after(() => rmSync(upgradeDir, { recursive: true, force: true }));
  await host(['dpkg-deb', '-R', deb, join(upgradeDir, 'tree')]);
  const control = join(upgradeDir, 'tree/DEBIAN/control');
  await host(['sed', '-i', `s/^Version: .*/Version: ${version}+1/`, control]);
  const upgradeDeb = join(upgradeDir, 'nfknock-upgrade.deb');
  assert.equal((await host(['dpkg-deb', '--root-owner-group', '--build', join(upgradeDir, 'tree'), upgradeDeb])).code, 0);

  const rootfs = await cachedRootfs((line) => t.diagnostic(line));
  const lab = await createLab({ name: 'nfk-sysd', ipv6: false });
  t.after(() => lab.destroy());
  const c = new BootedContainer(rootfs, lab.serverNamespace);
  t.after(() => c.destroy());
  await c.boot();
  const s = new Scenario(c, lab);
  await lab.startTcpService(PORT, 4);
  const step = (name: string, fn: () => Promise<void>) =>
    t.test(name, async (st) => {
      try {
        await fn();
      } catch (error) {
        st.diagnostic(`nfknockd journal (tail):\n${(await s.journal('nfknockd')).slice(-4000)}`);
        throw error;
      }
    });
  try {
    await step('install starts nothing and touches no firewall', async () => {
      await host(['cp', deb, join(c.root, 'root/nfknock.deb')]);
      await host(['cp', upgradeDeb, join(c.root, 'root/nfknock-upgrade.deb')]);
      await c.execOk(['dpkg', '-i', '/root/nfknock.deb']);
      await c.execOk(['systemd-analyze', 'verify', '--man=no', 'nfknockd.service', 'nfknock-firewall.service']);
      assert.equal(await s.show('nfknockd.service', 'ActiveState'), 'inactive');
      assert.equal(await s.show('nfknock-firewall.service', 'ActiveState'), 'inactive');
      assert.doesNotMatch((await c.execOk(['iptables', '-S'])).stdout, /NFKNOCK/);
      assert.equal(await lab.probeTcp(PORT, 4, 1000), 'open', 'no firewall yet: the service answers');
      assert.match((await c.execOk(['nfknockd', '--version'])).stdout, new RegExp(version.replaceAll('.', '\\.')));
    });

    await step('enable: the firewall unit loads rules.v4, the daemon opens and closes a door', async () => {
      c.writeFile('etc/knockd.conf', knockdConf(4));
      c.writeFile('var/lib/nfknock/one-time/once', `${ONE_TIME.map((seq) => seq.join(',')).join('\n')}\n`, 0o600);
      await c.execOk(['chmod', '0700', '/var/lib/nfknock']);
      await c.execOk(['nfknock', 'check', '-c', '/etc/knockd.conf']);
      await c.execOk(['sh', '-c', 'mkdir -p /etc/nfknock && nfknock rules -c /etc/knockd.conf --complete > /etc/nfknock/rules.v4']);
      await c.execOk(['systemctl', 'enable', '--now', 'nfknock-firewall.service', 'nfknockd.service']);
      assert.equal(await s.show('nfknockd.service', 'ActiveState'), 'active', 'Type=notify: active once knocks are read');
      assert.ok((await s.cat('/run/nfknock-firewall/generation'))?.trim(), 'the firewall unit recorded its generation');
      assert.equal(await lab.probeTcp(PORT, 4, 1000), 'filtered');
      await s.knock();
      await s.waitProbe('open', 5000, 'the door to open');
      await s.waitProbe('filtered', 12_000, 'cmd_timeout to close the door');
      const logFile = c.readFile('var/log/nfknock/knockd.log') ?? '';
      assert.match(logFile, /web: OPEN SESAME/);
      assert.match(logFile, /closing door|command timeout/);
    });

    await step('UseSyslog reaches the journal tagged nfknockd[<daemon pid>] (logger keeps its own credentials)', async () => {
      const pid = await s.show('nfknockd.service', 'MainPID');
      const lines = await waitFor(
        async () => {
          const out = (await c.exec(['journalctl', '--no-pager', '-o', 'json', '-t', 'nfknockd'])).stdout;
          // -t also matches the daemon's stdout (pino JSON, transport "stdout"); the syslog lines are these.
          const records = out.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, string>).filter((r) => r['_TRANSPORT'] === 'syslog');
          return records.some((r) => String(r['MESSAGE']).includes('OPEN SESAME')) ? records : undefined;
        },
        { timeoutMs: 10_000, description: 'OPEN SESAME in the journal' },
      );
      assert.ok(lines.every((r) => r['SYSLOG_PID'] === pid), `every line carries the daemon's pid ${pid}`);
      assert.doesNotMatch(await s.journal('nfknockd'), /cannot deliver lines/);
    });

    await step('the unit keeps /run read-only except its own runtime directory', async () => {
      const status = await s.cat('/run/nfknock/reload-status');
      assert.equal(status, undefined, 'no reload yet');
      await c.execOk(['systemctl', 'reload', 'nfknockd.service']);
      assert.match((await s.cat('/run/nfknock/reload-status')) ?? '', /"ok":true/, 'RuntimeDirectory is writable');
      // A door command runs in the unit's sandbox; probe it through a throwaway drop-in-free path: the
      // unit's own ExecReload environment is the same sandbox, so ask the service's mount namespace.
      const pid = await s.show('nfknockd.service', 'MainPID');
      const probe = await c.exec(['nsenter', '-t', pid, '-m', 'sh', '-c', 'touch /run/nfknock-escape 2>&1; touch /run/nfknock/ok 2>&1']);
      assert.match(probe.stdout, /Read-only file system/);
      assert.equal(await s.cat('/run/nfknock-escape'), undefined);
      assert.notEqual(await s.cat('/run/nfknock/ok'), undefined);
    });

    await step('reload with a broken config fails with the reason and keeps the daemon; start-up SIGHUP does not kill it', async () => {
      const pid = await s.show('nfknockd.service', 'MainPID');
      c.writeFile('etc/knockd.conf', knockdConf(4, { broken: true }));
      const reload = await c.exec(['systemctl', 'reload', 'nfknockd.service']);
      assert.notEqual(reload.code, 0, 'systemctl reload must fail for a refused config');
      assert.match(await s.journal('nfknockd'), /configuration refused[^\n]*NoSuchOption|NoSuchOption[^\n]*/i);
      assert.equal(await s.show('nfknockd.service', 'MainPID'), pid);
      assert.equal(await s.show('nfknockd.service', 'ActiveState'), 'active');
      c.writeFile('etc/knockd.conf', knockdConf(4));
      await c.execOk(['systemctl', 'reload', 'nfknockd.service']);
      // `systemctl reload` right after start: Type=notify makes it wait until the daemon is ready.
      await c.execOk(['systemctl', 'restart', '--no-block', 'nfknockd.service']);
      await c.execOk(['systemctl', 'reload', 'nfknockd.service']);
      const started = await s.show('nfknockd.service', 'MainPID');
      // A raw SIGHUP (logrotate's postrotate sends one) while the daemon is still loading: from the
      // moment nfknockd's first module runs (SigCgt has SIGHUP), it is held, not fatal. Node's own
      // bootstrap before that (~50 ms) remains, and Restart=on-failure covers it.
      await c.execOk(['systemctl', 'restart', '--no-block', 'nfknockd.service']);
      const early = await waitFor(async () => {
        const main = await s.show('nfknockd.service', 'MainPID');
        if (main === '0' || main === started) return undefined;
        const status = (await s.cat(`/proc/${main}/status`)) ?? '';
        const caught = BigInt(`0x${/^SigCgt:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? '0'}`);
        return (caught & 1n) === 1n ? main : undefined;
      }, { timeoutMs: 10_000, intervalMs: 2 });
      t.diagnostic(`SIGHUP sent while the unit was ${await s.show('nfknockd.service', 'ActiveState')}`);
      await c.exec(['kill', '-HUP', early]);
      await waitFor(async () => (await s.show('nfknockd.service', 'ActiveState')) === 'active', { timeoutMs: 15_000 });
      assert.equal(await s.show('nfknockd.service', 'MainPID'), early, 'the early SIGHUP did not kill the daemon');
      assert.equal(await s.show('nfknockd.service', 'NRestarts'), '0');
    });

    await step('a permanent error (bad config) leaves the unit failed, without a restart loop', async () => {
      await c.execOk(['systemctl', 'reset-failed', 'nfknockd.service']);
      c.writeFile('etc/knockd.conf', knockdConf(4, { broken: true }));
      const start = await c.exec(['systemctl', 'restart', 'nfknockd.service']);
      assert.notEqual(start.code, 0);
      assert.equal(await s.show('nfknockd.service', 'ActiveState'), 'failed');
      assert.equal(await s.show('nfknockd.service', 'ExecMainStatus'), '78');
      assert.equal(await s.show('nfknockd.service', 'NRestarts'), '0');
      c.writeFile('etc/knockd.conf', knockdConf(4));
      await c.execOk(['systemctl', 'reset-failed', 'nfknockd.service']);
      await c.execOk(['systemctl', 'start', 'nfknockd.service']);
    });

    await step('kill -9 with a door open: systemd restarts the daemon and the door still closes', async () => {
      await s.knock();
      await s.waitProbe('open', 5000, 'the door to open');
      await c.execOk(['systemctl', 'kill', '--kill-whom=main', '-s', 'KILL', 'nfknockd.service']);
      await waitFor(async () => (await s.show('nfknockd.service', 'NRestarts')) === '1' && (await s.show('nfknockd.service', 'ActiveState')) === 'active', { timeoutMs: 20_000 });
      await s.waitProbe('filtered', 10_000, 'the restarted daemon to close the overdue door');
    });

    await step('a one-time door opens under the unit and burns its line', async () => {
      await s.knock(ONE_TIME[0]);
      await s.waitProbe('open', 5000, 'the one-time door to open');
      assert.match(c.readFile('var/lib/nfknock/one-time/once') ?? '', /^#101:tcp,7102:tcp,7103:tcp$/m);
      await s.waitProbe('filtered', 12_000, 'the one-time door to close');
    });

    await step('the LogFile in the LogsDirectory survives rotation (rename, then the SIGHUP logrotate sends)', async () => {
      await c.execOk(['sh', '-c', 'mv /var/log/nfknock/knockd.log /var/log/nfknock/knockd.log.1 && systemctl kill --kill-whom=main -s HUP nfknockd.service']);
      await waitFor(async () => (await s.cat('/var/log/nfknock/knockd.log')) !== undefined, { timeoutMs: 5000, description: 'the reopened LogFile' });
      await s.knock();
      await s.waitProbe('open', 5000, 'the door to open');
      assert.match((await s.cat('/var/log/nfknock/knockd.log')) ?? '', /web: OPEN SESAME/);
      await s.waitProbe('filtered', 12_000, 'the door to close');
    });

    await step('a firewall reload with a door open: its failing stop counts the door closed, no endless alarm', async () => {
      await s.openWithTimeout(3);
      await c.execOk(['systemctl', 'reload', 'nfknock-firewall.service']);
      assert.equal(await lab.probeTcp(PORT, 4, 1000), 'filtered', 'the reload removed the door rule');
      await waitFor(async () => /firewall was loaded again since the door opened/.test(await s.journal('nfknockd')), { timeoutMs: 20_000, description: 'the door counted closed' });
      assert.deepEqual(await s.openDoors(), []);
      assert.doesNotMatch(await s.journal('nfknockd'), /THE DOOR MAY STILL BE OPEN/);
    });

    await step('the firewall unit loads an nft ruleset when that is the rules file', async () => {
      await c.execOk(['sh', '-c', 'rm /etc/nfknock/rules.v4 && iptables -P INPUT ACCEPT && iptables -F && nfknock rules -c /etc/knockd.conf --complete --format nft > /etc/nfknock/rules.nft']);
      await c.execOk(['systemctl', 'restart', 'nfknock-firewall.service']);
      assert.equal(await s.show('nfknock-firewall.service', 'ActiveState'), 'active');
      assert.match((await c.execOk(['nft', 'list', 'table', 'inet', 'nfknock'])).stdout, /policy drop/);
      assert.equal(await lab.probeTcp(PORT, 4, 1000), 'filtered');
      // Back to iptables for the rest.
      await c.execOk(['sh', '-c', 'rm /etc/nfknock/rules.nft && nft delete table inet nfknock && nfknock rules -c /etc/knockd.conf --complete > /etc/nfknock/rules.v4']);
      await c.execOk(['systemctl', 'restart', 'nfknock-firewall.service']);
    });

    await step('upgrade with a door open: the daemon restarts, keeps the door and closes it on time', async () => {
      await s.openWithTimeout(15);
      const before = await s.show('nfknockd.service', 'MainPID');
      await c.execOk(['dpkg', '-i', '/root/nfknock-upgrade.deb']);
      assert.notEqual(await s.show('nfknockd.service', 'MainPID'), before, 'the upgrade restarted the daemon');
      assert.equal(await s.show('nfknockd.service', 'ActiveState'), 'active');
      assert.equal(await lab.probeTcp(PORT, 4, 1000), 'open', 'the door stayed open');
      assert.equal((await s.openDoors()).length, 1);
      await s.waitProbe('filtered', 25_000, 'the new daemon to close the door on time');
    });

    await step('remove closes every open door; purge deletes state and logs', async () => {
      await s.openWithTimeout(600);
      await c.execOk(['dpkg', '-r', 'nfknock']);
      assert.equal(await lab.probeTcp(PORT, 4, 1000), 'filtered', 'removing the package closed the door');
      assert.equal(await s.show('nfknockd.service', 'ActiveState'), 'inactive');
      assert.ok(c.readFile('var/lib/nfknock/pending-closes.json') !== undefined);
      await c.execOk(['dpkg', '-P', 'nfknock']);
      assert.equal(c.readFile('var/lib/nfknock/pending-closes.json'), undefined);
      assert.equal(c.readFile('var/log/nfknock/knockd.log'), undefined);
    });
  } catch (error) {
    t.diagnostic(`container console (tail):\n${c.consoleOutput.slice(-3000)}`);
    t.diagnostic(`nfknockd journal (tail):\n${(await s.journal('nfknockd')).slice(-5000)}`);
    throw error;
  }
});
