/**
 * Every variant of `nfknock rules` (IPv4, IPv6, nft; NFLOG, LOG; fragment, complete; with and without
 * the flood guard) under a real daemon: a filtered service, a real knock, the service open. Fragments
 * are loaded as a host with its own firewall would (a default-DROP table first), complete tables alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { parseConfig } from '../../src/config/parse.js';
import { generateRules, nftDoorCommands } from '../../src/rules/generate.js';
import { createLab, e2eGate, withNfLogAllNetns, type Lab, type LabFamily } from '../helpers/lab.js';
import { rulesVariants, type RulesVariant } from '../helpers/rules-variants.js';
import { SERVICE_PORT, knockWithNfknock, removeDir, startDaemon, waitForProbe } from '../helpers/daemon-lab.js';

const gate = e2eGate({ tools: ['nft'] });

/** A host that already has a firewall: the fragments are loaded on top of this. */
function baseFirewall(family: LabFamily): string {
  const icmp = family === 6 ? ['-A INPUT -p ipv6-icmp -j ACCEPT'] : [];
  return ['*filter', ':INPUT DROP [0:0]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]', '-A INPUT -i lo -j ACCEPT', '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', ...icmp, 'COMMIT', ''].join('\n');
}

function doorCommands(variant: RulesVariant): string[] {
  if (variant.options.format === 'nft' && variant.options.complete) {
    const nft = nftDoorCommands('tcp', SERVICE_PORT);
    return [`start_command = ${nft.start}`, `stop_command = ${nft.stop}`, `start_command_6 = ${nft.start6}`, `stop_command_6 = ${nft.stop6}`];
  }
  const rule = (tool: string, verb: string) => `${tool} ${verb} INPUT -s %IP% -p tcp --dport ${SERVICE_PORT} -j ACCEPT`;
  return [`start_command = ${rule('iptables', '-I')}`, `stop_command = ${rule('iptables', '-D')}`, `start_command_6 = ${rule('ip6tables', '-I')}`, `stop_command_6 = ${rule('ip6tables', '-D')}`];
}

async function loadVariant(lab: Lab, variant: RulesVariant, text: string): Promise<void> {
  const family = variant.options.family;
  if (!variant.options.complete) {
    await lab.loadIptables(baseFirewall(4), 4);
    await lab.loadIptables(baseFirewall(6), 6);
  }
  for (const step of variant.load) await lab.execOk('server', step.argv, step.stdin ? { input: text } : {});
  if (variant.options.format === 'iptables' && variant.options.complete && family === 4) await lab.loadIptables(baseFirewall(6), 6);
  if (variant.options.format === 'iptables' && variant.options.complete && family === 6) await lab.loadIptables(baseFirewall(4), 4);
}

for (const variant of rulesVariants) {
  const log = variant.options.target === 'log';
  test(`generated rules ${variant.name}: a real knock opens the service`, { skip: gate.skip, timeout: 60_000 }, async (t) => {
    if (log) t.after(withNfLogAllNetns());
    const lab = await createLab({ name: 'nfk-var' });
    t.after(() => lab.destroy());
    // LOG lines of every lab share the host's kernel log: a prefix of our own keeps other tests' knocks out.
    const prefix = log ? `pk${randomBytes(4).toString('hex')}` : 'portknock';
    const conf = ['[door]', '    sequence = 7000:udp,8000:tcp,9000:udp', '    seq_timeout = 5', ...doorCommands(variant).map((line) => `    ${line}`), '    cmd_timeout = 30', ''].join('\n');
    const text = generateRules(parseConfig(conf, 'knockd.conf'), { ...variant.options, prefix });
    await loadVariant(lab, variant, text);
    const family: LabFamily = variant.options.format === 'nft' ? 6 : variant.options.family;
    await lab.startTcpService(SERVICE_PORT, family);
    const args = log ? ['--source', 'kmsg', '--prefix', prefix, '--allow-netns-log'] : [];
    const daemon = await startDaemon(lab, conf, args);
    t.after(async () => {
      await daemon.stop();
      await removeDir(daemon.dir);
    });
    assert.equal(await lab.probeTcp(SERVICE_PORT, family, 500), 'filtered', 'filtered before the knock');
    await knockWithNfknock(lab, family, ['7000:udp', '8000:tcp', '9000:udp']);
    await waitForProbe(lab, family, 'open', 3000);
    assert.match(await daemon.log(), /door: OPEN SESAME/);
  });
}
