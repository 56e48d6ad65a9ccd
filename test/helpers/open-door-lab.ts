/**
 * The `Open =` door of issue 13 end to end, for one backend: the complete firewall of that backend in
 * a lab, nfknockd opening 2222 in the kernel set, and the kernel closing it after cmd_timeout even
 * when the daemon and its state are gone. IPv4 and IPv6 run side by side in one lab to keep the
 * matrix's wall time down; each knock's client alternates between ours and Debian's `knock`.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import type { TestContext } from 'node:test';
import { parseConfig } from '../../src/config/parse.js';
import { generateRules } from '../../src/rules/generate.js';
import { nftOwnTableRules } from '../../src/rules/own-table.js';
import type { FirewallKind } from '../../src/core/types.js';
import { createLab, waitFor, type Lab, type LabFamily } from './lab.js';
import { SERVICE_PORT, knockWithDebianKnock, knockWithNfknock, removeDir, startDaemon, waitForProbe } from './daemon-lab.js';

export const CMD_TIMEOUT_S = 5;
const SEQUENCE = ['7000:udp', '8000:tcp', '9000:udp'];
const FAMILIES: readonly LabFamily[] = [4, 6];

export function openDoorConf(firewall: FirewallKind): string {
  return [
    '[options]',
    `    Firewall    = ${firewall}`,
    '[openSSH]',
    `    sequence    = ${SEQUENCE.join(',')}`,
    '    seq_timeout = 5',
    `    Open        = ${SERVICE_PORT}:tcp`,
    `    cmd_timeout = ${CMD_TIMEOUT_S}`,
    '',
  ].join('\n');
}

/** The backend's complete firewall: nft's table, or the ipsets and the iptables files that match them. */
export async function loadCompleteFirewall(lab: Lab, firewall: FirewallKind, conf: string): Promise<void> {
  const config = parseConfig(conf, 'knockd.conf');
  const base = { target: 'nflog', group: 5, prefix: 'portknock', complete: true } as const;
  if (firewall === 'nft') {
    await lab.loadNft(generateRules(config, { ...base, family: 4, format: 'nft' }));
    return;
  }
  await lab.execOk('server', ['ipset', 'restore', '-exist'], { input: generateRules(config, { ...base, family: 4, format: 'ipset' }) });
  for (const family of FAMILIES) await lab.loadIptables(generateRules(config, { ...base, family, format: 'iptables', openSets: true }), family);
}

type Client = 'ours' | 'debian';

async function knock(lab: Lab, family: LabFamily, client: Client): Promise<void> {
  await (client === 'ours' ? knockWithNfknock(lab, family, SEQUENCE) : knockWithDebianKnock(lab, family, SEQUENCE));
}

/** The entries of nfknock's sets, one line each, as the backend lists them. */
async function kernelEntries(lab: Lab, firewall: FirewallKind, family: LabFamily, table = 'nfknock'): Promise<string> {
  const argv = firewall === 'nft' ? ['nft', 'list', 'set', 'inet', table, `open${family}`] : ['ipset', 'list', `nfknock-open${family}`];
  return (await lab.execOk('server', argv)).stdout;
}

/** Knocks both families at once, one client each, and returns when each knock completed. */
async function knockBoth(lab: Lab, clients: Record<LabFamily, Client>): Promise<Record<LabFamily, number>> {
  const at = { 4: 0, 6: 0 } as Record<LabFamily, number>;
  await Promise.all(FAMILIES.map(async (family) => {
    await knock(lab, family, clients[family]);
    at[family] = Date.now();
  }));
  return at;
}

async function expectOpenOnlyForKnocker(lab: Lab, firewall: FirewallKind): Promise<void> {
  await Promise.all(FAMILIES.map((family) => waitForProbe(lab, family, 'open', 3000)));
  for (const family of FAMILIES) {
    const listed = await kernelEntries(lab, firewall, family);
    const entry = firewall === 'nft' ? `${lab.clientAddress(family)} . tcp . ${SERVICE_PORT}` : `${lab.clientAddress(family)},tcp:${SERVICE_PORT}`;
    assert.ok(listed.includes(entry), `the kernel set holds the knocker's entry:\n${listed}`);
    assert.match(listed, /timeout/, 'the entry carries its own timeout');
    const others = listed.split('\n').filter((line) => /\d+\.\d+\.\d+\.\d+|[0-9a-f]+:[0-9a-f:]+/.test(line) && !line.includes(lab.clientAddress(family)) && !/^(Name|Header|create)/.test(line.trim()));
    assert.deepEqual(others, [], 'nobody but the knocker is in the set');
  }
}

/**
 * Proves `family` was filtered again by `deadline` (epoch ms). The moment is taken from the kernel set
 * (polled every 50 ms: the knocker's entry is gone), not from a TCP probe, whose "filtered" verdict only
 * comes after its own timeout; the probe then confirms that 2222 really is filtered.
 */
async function expectFilteredBy(t: TestContext, lab: Lab, firewall: FirewallKind, family: LabFamily, deadline: number, what: string, table = 'nfknock'): Promise<void> {
  const entry = firewall === 'nft' ? `${lab.clientAddress(family)} . tcp . ${SERVICE_PORT}` : `${lab.clientAddress(family)},tcp:${SERVICE_PORT}`;
  await waitFor(async () => !(await kernelEntries(lab, firewall, family, table)).includes(entry), { timeoutMs: Math.max(1000, deadline - Date.now() + 2000), intervalMs: 50 });
  const margin = deadline - Date.now();
  await waitForProbe(lab, family, 'filtered', 2000);
  assert.ok(margin >= 0, `IPv${family}: ${what} (${-margin} ms late)`);
  t.diagnostic(`IPv${family}: ${what}: the kernel entry was gone ${margin} ms before the deadline (cmd_timeout + 1 s after the knock)`);
}

/**
 * The daemon runs: the door opens for the knocker only, a re-knock at 3 s keeps it open past 5 s,
 * and the close is logged like knockd's. Then the daemon's whole process tree is killed with -9 and
 * its state dir deleted: the kernel alone closes the door within cmd_timeout + 1 s.
 */
export async function runOpenDoorScenario(t: TestContext, firewall: FirewallKind): Promise<void> {
  const lab = await createLab({ name: `nfk-o${firewall.slice(0, 2)}` });
  t.after(() => lab.destroy());
  const conf = openDoorConf(firewall);
  await loadCompleteFirewall(lab, firewall, conf);
  for (const family of FAMILIES) await lab.startTcpService(SERVICE_PORT, family);
  const daemon = await startDaemon(lab, conf);
  t.after(async () => {
    await daemon.stop();
    await removeDir(daemon.dir);
  });
  for (const family of FAMILIES) assert.equal(await lab.probeTcp(SERVICE_PORT, family, 400), 'filtered', `IPv${family} starts filtered`);

  // 1. Open, re-knock at 3 s, still open past 5 s, closed (and logged) after the renewed cmd_timeout.
  const first = await knockBoth(lab, { 4: 'ours', 6: 'debian' });
  await expectOpenOnlyForKnocker(lab, firewall);
  await waitFor(() => Date.now() >= Math.max(first[4], first[6]) + 3000, { timeoutMs: 5000, intervalMs: 50 });
  const again = await knockBoth(lab, { 4: 'debian', 6: 'ours' });
  await waitFor(() => Date.now() >= Math.max(first[4], first[6]) + CMD_TIMEOUT_S * 1000 + 500, { timeoutMs: 5000, intervalMs: 50 });
  for (const family of FAMILIES) assert.equal(await lab.probeTcp(SERVICE_PORT, family, 1000), 'open', `IPv${family}: the re-knock kept the door open past cmd_timeout`);
  await Promise.all(FAMILIES.map((family) => expectFilteredBy(t, lab, firewall, family, again[family] + (CMD_TIMEOUT_S + 1) * 1000, 'closed after the renewed cmd_timeout')));
  const log = await waitFor(async () => {
    const text = await daemon.log();
    return FAMILIES.every((family) => text.includes(`${lab.clientAddress(family)}: openSSH: closing door`)) ? text : undefined;
  }, { timeoutMs: 3000 });
  const tool = firewall === 'nft' ? 'nft add element inet nfknock open4' : `ipset add nfknock-open4 ${lab.clientAddress(4)},tcp:${SERVICE_PORT} timeout ${CMD_TIMEOUT_S}`;
  for (const line of [`${lab.clientAddress(4)}: openSSH: OPEN SESAME`, `openSSH: running command: ${tool}`, `${lab.clientAddress(4)}: openSSH: command timeout`, `${lab.clientAddress(6)}: openSSH: closing door`]) {
    assert.ok(log.includes(line), `the log has "${line}" like knockd's:\n${log}`);
  }

  // 2. Open again, then kill -9 the daemon's whole process tree, delete its state, never restart.
  const opened = await knockBoth(lab, { 4: 'debian', 6: 'ours' });
  await expectOpenOnlyForKnocker(lab, firewall);
  process.kill(-(daemon.child.pid as number), 'SIGKILL');
  await waitFor(() => daemon.child.exitCode !== null || daemon.child.signalCode !== null, { timeoutMs: 3000 });
  await rm(daemon.stateDir, { recursive: true, force: true });
  await Promise.all(FAMILIES.map((family) => expectFilteredBy(t, lab, firewall, family, opened[family] + (CMD_TIMEOUT_S + 1) * 1000, 'the kernel closed the door with no daemon and no state')));
}

/**
 * A host that keeps its own nft ruleset (`inet filter`, input policy drop): nfknock's fragment table
 * only logs the knocks, `nfknock rules --own-table filter` adds the sets and rules to the host's table,
 * and nfknockd with `NftTable = filter` opens the door there; the kernel still closes it by itself.
 */
export async function runOwnTableScenario(t: TestContext): Promise<void> {
  const lab = await createLab({ name: 'nfk-oown' });
  t.after(() => lab.destroy());
  const conf = openDoorConf('nft').replace('[openSSH]', '    NftTable    = filter\n[openSSH]');
  const hostTable = ['table inet filter {', '\tchain input {', '\t\ttype filter hook input priority filter; policy drop;', '\t\tiif "lo" accept', '\t\tct state established,related accept', '\t}', '}', ''].join('\n');
  await lab.loadNft(hostTable);
  const config = parseConfig(conf, 'knockd.conf');
  await lab.loadNft(generateRules(config, { target: 'nflog', group: 5, prefix: 'portknock', complete: false, family: 4, format: 'nft' }));
  await lab.loadNft(nftOwnTableRules('filter', 'input'));
  await lab.startTcpService(SERVICE_PORT, 4);
  const daemon = await startDaemon(lab, conf);
  t.after(async () => {
    await daemon.stop();
    await removeDir(daemon.dir);
  });
  assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 400), 'filtered');
  await knockWithDebianKnock(lab, 4, SEQUENCE);
  const knockedAt = Date.now();
  await waitForProbe(lab, 4, 'open', 3000);
  assert.match((await lab.execOk('server', ['nft', 'list', 'set', 'inet', 'filter', 'open4'])).stdout, new RegExp(`${lab.clientAddress(4).replaceAll('.', '\\.')} \\. tcp \\. ${SERVICE_PORT} timeout ${CMD_TIMEOUT_S}s`));
  process.kill(-(daemon.child.pid as number), 'SIGKILL');
  await waitFor(() => daemon.child.exitCode !== null || daemon.child.signalCode !== null, { timeoutMs: 3000 });
  await rm(daemon.stateDir, { recursive: true, force: true });
  await expectFilteredBy(t, lab, 'nft', 4, knockedAt + (CMD_TIMEOUT_S + 1) * 1000, 'the kernel closed the door in the host\'s own table', 'filter');
}
