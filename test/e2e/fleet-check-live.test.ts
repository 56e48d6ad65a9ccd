/**
 * `nfknock check --live` (issue 16) against a real kernel: clean on the firewall `nfknock rules` made,
 * and after one mark is deleted by hand it fails naming the port and the fix; the daemon logs the same
 * difference as a warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRules } from '../../src/rules/generate.js';
import { parseConfig } from '../../src/config/parse.js';
import { createLab, e2eGate, type Lab } from '../helpers/lab.js';
import { loadGeneratedFirewall, nfknockPath, removeDir, startDaemon } from '../helpers/daemon-lab.js';
import { SEED, serviceDoor, waitForOutputText } from '../helpers/hardening-lab.js';

const gate = e2eGate({ tools: ['nft', 'iptables-save', 'ip6tables-save'] });
const conf = serviceDoor('web', SEED.join(',')) + serviceDoor('db', '7100:udp,7200:tcp');

async function checkLive(lab: Lab, path: string, extra: string[] = []) {
  return lab.exec('server', [process.execPath, nfknockPath, 'check', '--live', '-c', path, ...extra]);
}

test('check --live: clean on the generated firewall, names the port after a mark is deleted by hand', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lab = await createLab({ name: 'nfkj-live' });
  t.after(() => lab.destroy());
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-e2e-'));
  t.after(() => removeDir(dir));
  const path = join(dir, 'knockd.conf');
  await writeFile(path, conf, { mode: 0o600 });

  await t.test('iptables (both families)', async () => {
    await loadGeneratedFirewall(lab, conf);
    const clean = await checkLive(lab, path);
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /marks every knock port/);

    const rule = (await lab.execOk('server', ['iptables', '-S', 'NFKNOCK'])).stdout.split('\n').find((line) => line.includes('--dport 8000'));
    assert.ok(rule, 'the generated firewall marks 8000/tcp');
    await lab.execOk('server', ['iptables', ...rule.replace(/^-A /, '-D ').split(' ')]);
    const drift = await checkLive(lab, path);
    assert.equal(drift.code, 1, drift.stdout + drift.stderr);
    assert.match(drift.stdout, /^IPv4: knock port 8000\/tcp \(web\): not marked \(unmarked\)$/m);
    assert.doesNotMatch(drift.stdout, /^IPv6:/m, 'the IPv6 marks are untouched');
    assert.match(drift.stdout, /nfknock rules -c \S+knockd\.conf --family 4 \| iptables-restore --noflush/);

    // The daemon runs the same comparison at start and logs it as one warning.
    const daemon = await startDaemon(lab, conf);
    t.after(async () => {
      await daemon.stop();
      await removeDir(daemon.dir);
    });
    const output = await waitForOutputText(daemon, /does not mark what the configuration needs/);
    assert.match(output, /"level":"warn"[^\n]*IPv4: knock port 8000\/tcp \(web\): not marked/);
    await daemon.stop();
  });

  await t.test('nft', async () => {
    await lab.execOk('server', ['iptables', '-F']);
    await lab.execOk('server', ['iptables', '-X']);
    await lab.execOk('server', ['ip6tables', '-F']);
    await lab.execOk('server', ['ip6tables', '-X']);
    const options = { target: 'nflog', group: 5, prefix: 'portknock', family: 4, complete: false, format: 'nft' } as const;
    await lab.loadNft(generateRules(parseConfig(conf, path), options));
    const clean = await checkLive(lab, path);
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    const listing = (await lab.execOk('server', ['nft', '-a', 'list', 'chain', 'inet', 'nfknock', 'knock'])).stdout;
    const handle = /udp dport 7100 .*# handle (\d+)/.exec(listing)?.[1];
    assert.ok(handle, listing);
    await lab.execOk('server', ['nft', 'delete', 'rule', 'inet', 'nfknock', 'knock', 'handle', handle]);
    const drift = await checkLive(lab, path);
    assert.equal(drift.code, 1, drift.stdout + drift.stderr);
    assert.match(drift.stdout, /^IPv4: knock port 7100\/udp \(db\): not marked/m);
    assert.match(drift.stdout, /^IPv6: knock port 7100\/udp \(db\): not marked/m);
    assert.match(drift.stdout, /nfknock rules -c \S+ --format nft \| nft -f -/);
  });
});
