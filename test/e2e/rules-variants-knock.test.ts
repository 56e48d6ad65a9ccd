import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/parse.js';
import { generateRules, iptablesHookCommand, nftDoorCommands, type RulesOptions } from '../../src/rules/generate.js';
import { createLab, e2eGate } from '../helpers/lab.js';
import { SERVICE_PORT, knockWithNfknock, removeDir, startDaemon, waitForProbe } from '../helpers/daemon-lab.js';

const gate = e2eGate({ tools: ['nft'] });

/** A host that already has a firewall: the fragments are loaded on top of this. */
const baseFirewall = ['*filter', ':INPUT DROP [0:0]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]', '-A INPUT -i lo -j ACCEPT', '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', 'COMMIT', ''].join('\n');

function doorConf(commands: { start: string; stop: string }): string {
  return ['[door]', '    sequence = 7000:udp,8000:tcp,9000:udp', '    seq_timeout = 5', `    start_command = ${commands.start}`, '    cmd_timeout = 30', `    stop_command = ${commands.stop}`, ''].join('\n');
}

const iptablesDoor = {
  start: `iptables -I INPUT -s %IP% -p tcp --dport ${SERVICE_PORT} -j ACCEPT`,
  stop: `iptables -D INPUT -s %IP% -p tcp --dport ${SERVICE_PORT} -j ACCEPT`,
};

interface Scenario {
  name: string;
  options: Omit<RulesOptions, 'group' | 'prefix' | 'target'>;
  door: { start: string; stop: string };
}

const scenarios: Scenario[] = [
  { name: 'iptables fragment on an existing firewall', options: { family: 4, complete: false, format: 'iptables' }, door: iptablesDoor },
  { name: 'iptables complete with the flood guard', options: { family: 4, complete: true, format: 'iptables', floodGuard: { perSourcePerSecond: 20, burst: 40 } }, door: iptablesDoor },
  { name: 'nft fragment beside an iptables firewall', options: { family: 4, complete: false, format: 'nft' }, door: iptablesDoor },
  { name: 'nft complete, doors opened through its set', options: { family: 4, complete: true, format: 'nft' }, door: nftDoorCommands('tcp', SERVICE_PORT) },
];

for (const scenario of scenarios) {
  test(`generated rules, ${scenario.name}: a real knock opens the service`, { skip: gate.skip, timeout: 60_000 }, async (t) => {
    const lab = await createLab({ name: 'nfk-var' });
    t.after(() => lab.destroy());
    const conf = doorConf(scenario.door);
    const rules = generateRules(parseConfig(conf, 'knockd.conf'), { target: 'nflog', group: 5, prefix: 'portknock', ...scenario.options });
    if (scenario.options.format === 'nft') {
      if (!scenario.options.complete) await lab.loadIptables(baseFirewall, 4);
      await lab.loadNft(rules);
    } else if (scenario.options.complete) {
      await lab.loadIptables(rules, 4);
    } else {
      await lab.loadIptables(baseFirewall, 4);
      await lab.execOk('server', ['iptables-restore', '--noflush'], { input: rules });
      await lab.execOk('server', ['/bin/sh', '-c', iptablesHookCommand(4)]);
    }
    await lab.startTcpService(SERVICE_PORT, 4);
    const daemon = await startDaemon(lab, conf);
    t.after(async () => {
      await daemon.stop();
      await removeDir(daemon.dir);
    });
    assert.equal(await lab.probeTcp(SERVICE_PORT, 4, 500), 'filtered');
    await knockWithNfknock(lab, 4, ['7000:udp', '8000:tcp', '9000:udp']);
    await waitForProbe(lab, 4, 'open', 3000);
    assert.match(await daemon.log(), /door: OPEN SESAME/);
  });
}
