/**
 * `nfknock apply FILE --confirm-within 5` (issue 16) in the server namespace: a ruleset that locks the
 * service out is rolled back by the detached timer even though the session that ran apply hung up;
 * with `apply --confirm` in time the new ruleset stays.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, e2eGate, waitFor, waitForOutput, type Lab } from '../helpers/lab.js';
import { SERVICE_PORT, nfknockPath, removeDir, waitForProbe } from '../helpers/daemon-lab.js';
import { processesIn } from '../helpers/hardening-lab.js';

const gate = e2eGate({ tools: ['nft'] });
const firewall = (extra: string) =>
  ['*filter', ':INPUT DROP [0:0]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]', '-A INPUT -i lo -j ACCEPT', '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', extra, 'COMMIT', ''].join('\n');
/** The lab's working firewall: the service is reachable. */
const WORKING = firewall(`-A INPUT -p tcp -m tcp --dport ${SERVICE_PORT} -j ACCEPT`);
/** A change that locks the service out (as a wrong template would lock out SSH). */
const LOCKOUT = firewall('-A INPUT -s 192.0.2.1/32 -p tcp -m tcp --dport 22 -j ACCEPT');

async function apply(lab: Lab, runtimeDir: string, args: string[]) {
  return lab.exec('server', [process.execPath, nfknockPath, 'apply', ...args, '--runtime-dir', runtimeDir]);
}

test('apply --confirm-within 5: rolled back without confirmation (after a hangup), kept with it', { skip: gate.skip, timeout: 90_000 }, async (t) => {
  const lab = await createLab({ name: 'nfkj-apply' });
  t.after(() => lab.destroy());
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-e2e-'));
  t.after(() => removeDir(dir));
  const runtimeDir = join(dir, 'run', 'apply');
  const lockout = join(dir, 'lockout.rules');
  await writeFile(lockout, LOCKOUT);
  await lab.loadIptables(WORKING, 4);
  await lab.startTcpService(SERVICE_PORT, 4);
  await waitForProbe(lab, 4, 'open', 3000);

  await t.test('without confirmation the previous ruleset comes back, though the session hung up', async () => {
    // Like an SSH session: a shell that runs apply and then dies of SIGHUP with its process group.
    const session = lab.spawn('server', ['/bin/sh', '-c', `"$0" "$1" apply "$2" --confirm-within 5 --runtime-dir "$3"; echo "apply-status=$?"; exec sleep 600`, process.execPath, nfknockPath, lockout, runtimeDir]);
    await waitForOutput(session, /apply-status=(\d+)/, 15_000).then((match) => assert.equal(match[1], '0'));
    const appliedAt = Date.now();
    assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 400), 'filtered', 'the new ruleset is loaded');
    if (session.pid !== undefined) process.kill(-session.pid, 'SIGHUP');
    await waitForProbe(lab, 4, 'open', 15_000);
    assert.ok(Date.now() - appliedAt >= 4000, `restored at the deadline, not before (${Date.now() - appliedAt} ms)`);
    assert.match(await readFile(join(runtimeDir, 'last.json'), 'utf8'), /"outcome":"rolled-back"/);
    const late = await apply(lab, runtimeDir, ['--confirm']);
    assert.equal(late.code, 75, `too late to confirm: ${late.stderr}`);
    assert.match(late.stderr, /too late: apply \S+ was rolled back/);
  });

  await t.test('confirmed in time, the new ruleset stays past the deadline', async () => {
    const applied = await apply(lab, runtimeDir, [lockout, '--confirm-within', '5']);
    assert.equal(applied.code, 0, applied.stderr);
    const deadline = Date.parse(/comes back at (\S+)/.exec(applied.stdout)?.[1] ?? '');
    assert.ok(Number.isFinite(deadline), applied.stdout);
    const busy = await apply(lab, runtimeDir, [lockout, '--confirm-within', '5']);
    assert.equal(busy.code, 73, 'a second apply waits for the first');
    const confirmed = await apply(lab, runtimeDir, ['--confirm']);
    assert.equal(confirmed.code, 0, confirmed.stderr);
    await waitFor(async () => (await processesIn(lab, 'server', 'rollback-timer')).length === 0, { timeoutMs: 5000, description: 'the rollback timer to stop' });
    await waitFor(() => Date.now() > deadline + 1500, { timeoutMs: 10_000, description: 'the deadline to pass' });
    assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 400), 'filtered', 'the confirmed ruleset stays');
    assert.match(await lab.iptablesRules(4), /-A INPUT -s 192\.0\.2\.1\/32 -p tcp -m tcp --dport 22 -j ACCEPT/);
    assert.equal((await apply(lab, runtimeDir, ['--confirm'])).code, 66, 'nothing left to confirm');
  });

  await t.test('an nft file is recognised, and without confirmation the previous nft ruleset comes back', async () => {
    await lab.execOk('server', ['nft', 'flush', 'ruleset']);
    const nft = (extra: string) => ['table inet lab {', '\tchain input {', '\t\ttype filter hook input priority filter; policy drop;', '\t\tct state established,related accept', `\t\t${extra}`, '\t}', '}', ''].join('\n');
    await lab.loadNft(nft(`tcp dport ${SERVICE_PORT} accept`));
    await waitForProbe(lab, 4, 'open', 3000);
    const nftLockout = join(dir, 'lockout.nft');
    await writeFile(nftLockout, `#!/usr/sbin/nft -f\nflush ruleset\n${nft('tcp dport 22 ip saddr 192.0.2.1 accept')}`);
    const applied = await apply(lab, runtimeDir, [nftLockout, '--confirm-within', '3']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /\(nft\)/);
    assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 400), 'filtered');
    await waitForProbe(lab, 4, 'open', 12_000);
    assert.match((await lab.execOk('server', ['nft', 'list', 'ruleset'])).stdout, new RegExp(`tcp dport ${SERVICE_PORT} accept`));
    await lab.execOk('server', ['nft', 'flush', 'ruleset']);
  });

  await t.test('a file the tool refuses changes nothing', async () => {
    await lab.loadIptables(WORKING, 4);
    const bad = join(dir, 'bad.rules');
    await writeFile(bad, '*filter\n-A INPUT -s 192.0.2.1 --no-such-option -j ACCEPT\nCOMMIT\n');
    const refused = await apply(lab, runtimeDir, [bad, '--confirm-within', '5']);
    assert.equal(refused.code, 65, refused.stderr);
    assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 400), 'open');
  });
});
