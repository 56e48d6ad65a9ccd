/**
 * Every variant of generated rules loads into a real kernel (in a namespace), shows its knock rules,
 * loads a second time without change, and, for complete tables, still lets neighbour discovery and
 * an opened door through while everything else is filtered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateRules, nftDoorCommands } from '../../src/rules/generate.js';
import { substituteCommand } from '../../src/config/substitute.js';
import { createLab, e2eGate, type Lab, type LabFamily } from '../helpers/lab.js';
import { rulesVariants, type RulesVariant } from '../helpers/rules-variants.js';
import { config, door, steps } from '../helpers/doors.js';
import { TcpFlag } from '../../src/core/types.js';

const gate = e2eGate({ tools: ['nft'] });

const doors = config([
  door({ name: 'openSSH', steps: steps('7000', '8000', '9000'), tcpFlags: { required: TcpFlag.SYN, forbidden: TcpFlag.ACK } }),
  door({ name: 'udpDoor', steps: steps('7001:udp', '8001:udp', '7000') }),
  door({
    name: 'rotating',
    steps: [],
    timeSequence: { length: 4, portMin: 40000, portMax: 40999, periodSeconds: 30, protocols: 'mixed' },
  }),
]);

const doorPort = 2222;

async function load(lab: Lab, variant: RulesVariant, text: string): Promise<void> {
  for (const step of variant.load) await lab.execOk('server', step.argv, step.stdin ? { input: text } : {});
}

async function show(lab: Lab, variant: RulesVariant): Promise<string> {
  return (await lab.execOk('server', variant.show)).stdout;
}

function knockLinesOf(text: string): string[] {
  return text.split('\n').filter((line) => line.startsWith('-A NFKNOCK'));
}

async function assertHookedOnce(lab: Lab, variant: RulesVariant): Promise<void> {
  if (variant.options.format === 'nft') {
    const tables = (await lab.execOk('server', ['nft', 'list', 'tables'])).stdout;
    assert.equal(tables.split('\n').filter((line) => line.trim() === 'table inet nfknock').length, 1, tables);
    return;
  }
  const tool = variant.options.family === 4 ? 'iptables' : 'ip6tables';
  const input = (await lab.execOk('server', [tool, '-S', 'INPUT'])).stdout;
  assert.equal(input.split('\n').filter((line) => line === '-A INPUT -j NFKNOCK').length, 1, input);
}

/** Behind a complete table: the door port is filtered until the door's own command opens it. */
async function assertDoorOpensThroughCompleteTable(lab: Lab, variant: RulesVariant, family: LabFamily): Promise<void> {
  await lab.startTcpService(doorPort, family);
  // Empty neighbour caches: the probes below must resolve addresses through the filter (IPv6 NDP).
  for (const side of ['server', 'client'] as const) await lab.execOk(side, ['ip', 'neigh', 'flush', 'all']);
  assert.equal(await lab.probeTcp(doorPort, family), 'filtered', 'the door port must be closed before the door opens');
  const client = lab.clientAddress(family);
  const start =
    variant.options.format === 'nft'
      ? nftDoorCommands('tcp', doorPort)[family === 4 ? 'start' : 'start6']
      : // knockd's own example appends: the table ends in a policy, so an appended ACCEPT is reached.
        `${family === 4 ? 'iptables' : 'ip6tables'} -A INPUT -s %IP% -p tcp --dport ${doorPort} -j ACCEPT`;
  await lab.execOk('server', ['/bin/sh', '-c', substituteCommand(start, client)]);
  assert.equal(await lab.probeTcp(doorPort, family), 'open', `door command did not open the port: ${start}`);
  assert.equal(await lab.probeTcp(doorPort + 1, family), 'filtered', 'another port must stay filtered');
}

for (const variant of rulesVariants) {
  test(`rules variant ${variant.name} loads, shows its knock rules and reloads idempotently`, { skip: gate.skip }, async (t) => {
    const lab = await createLab({ name: 'nfkd' });
    t.after(() => lab.destroy());
    const text = generateRules(doors, variant.options);

    await load(lab, variant, text);
    const first = await show(lab, variant);
    if (variant.options.format === 'iptables') {
      assert.deepEqual(knockLinesOf(first), knockLinesOf(text), 'the kernel holds exactly the generated knock rules');
    } else {
      for (const expected of ['tcp dport 7000', 'udp dport 7001', 'tcp dport 40000-40999', 'udp dport 40000-40999']) {
        assert.ok(first.includes(expected), `missing "${expected}" in:\n${first}`);
      }
      assert.ok(first.includes(`log prefix "portknock${variant.options.target === 'log' ? ' ' : ''}"`), first);
    }
    await assertHookedOnce(lab, variant);

    await load(lab, variant, text);
    assert.equal(await show(lab, variant), first, 'loading twice must leave the same rules');
    await assertHookedOnce(lab, variant);

    if (variant.options.complete) {
      const families: LabFamily[] = variant.options.format === 'nft' ? [4, 6] : [variant.options.family];
      for (const family of families) await assertDoorOpensThroughCompleteTable(lab, variant, family);
    }
  });
}
