/**
 * Proves the lab against a daemon nobody here wrote: Debian's knockd, sniffing the lab's veth, must
 * open port 2222 for Debian's knock client and close it after cmd_timeout. If this fails, the harness
 * (namespaces, firewall loading, probes) is wrong, not nfknock. The project's own client must open
 * the same door.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { createLab, e2eGate, outputOf, waitForOutput, type Lab, type LabFamily } from '../helpers/lab.js';
import { assertDoorCycle as assertSharedDoorCycle, SERVICE_PORT } from '../helpers/daemon-lab.js';

const gate = e2eGate({ tools: ['knockd', 'knock'] });
const servicePort = SERVICE_PORT;
const cmdTimeoutSeconds = 3;
const door = ['7000:udp', '8000:tcp', '9000:udp'];
const projectClient = fileURLToPath(new URL('../../src/client/knock.js', import.meta.url));

function knockdConfig(logFile: string): string {
  const rule = (tool: string, verb: string) => `${tool} ${verb} INPUT -s %IP% -p tcp --dport ${servicePort} -j ACCEPT`;
  return [
    '[options]',
    `  logfile = ${logFile}`,
    '[door]',
    `  sequence = ${door.join(',')}`,
    '  seq_timeout = 5',
    `  start_command = ${rule('iptables', '-I')}`,
    `  start_command_6 = ${rule('ip6tables', '-I')}`,
    `  cmd_timeout = ${cmdTimeoutSeconds}`,
    `  stop_command = ${rule('iptables', '-D')}`,
    `  stop_command_6 = ${rule('ip6tables', '-D')}`,
    '',
  ].join('\n');
}

// Default DROP, but loopback, established flows and (for IPv6) neighbour discovery get through.
function dropPolicy(family: LabFamily): string {
  return [
    '*filter',
    ':INPUT DROP [0:0]',
    ':FORWARD DROP [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    '-A INPUT -i lo -j ACCEPT',
    '-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    ...(family === 6 ? ['-A INPUT -p ipv6-icmp -j ACCEPT'] : []),
    'COMMIT',
    '',
  ].join('\n');
}

describe('Debian knockd in the lab', { skip: gate.skip }, () => {
  let lab: Lab;
  let knockd: ChildProcess;
  let directory: string;

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'nfkf-knockd-'));
    lab = await createLab({ name: 'nfkf' });
    await lab.loadIptables(dropPolicy(4), 4);
    await lab.loadIptables(dropPolicy(6), 6);
    await lab.startTcpService(servicePort, 4);
    await lab.startTcpService(servicePort, 6);
    const config = join(directory, 'knockd.conf');
    writeFileSync(config, knockdConfig(join(directory, 'knockd.log')));
    knockd = lab.spawn('server', ['knockd', '-c', config, '-i', lab.serverInterface, '-v']);
    await waitForOutput(knockd, /listening on/, 5000);
  });

  after(async () => {
    await lab?.destroy();
    if (directory) rmSync(directory, { recursive: true, force: true });
  });

  /** The shared door cycle, plus: the rule names the client, and the timer (not anything faster) closed it. */
  async function assertDoorCycle(family: LabFamily, knock: () => Promise<void>): Promise<void> {
    let openedAt = 0;
    await assertSharedDoorCycle(lab, family, knock, {
      closeWithinMs: cmdTimeoutSeconds * 1000 + 3000,
      whileOpen: async () => {
        openedAt = Date.now();
        assert.match(await lab.iptablesRules(family), new RegExp(`-s ${lab.clientAddress(family)}/\\d+ .*--dport ${servicePort} -j ACCEPT`), `knockd said:\n${outputOf(knockd)}`);
      },
    });
    assert.ok(Date.now() - openedAt >= (cmdTimeoutSeconds - 1) * 1000, `closed after only ${Date.now() - openedAt} ms`);
    assert.doesNotMatch(await lab.iptablesRules(family), new RegExp(`--dport ${servicePort} -j ACCEPT`));
  }

  const knockWithDebianClient = (family: LabFamily, ports: string[]) => async () => {
    const flag = family === 6 ? ['-6'] : [];
    await lab.execOk('client', ['knock', ...flag, '-d', '50', lab.serverAddress(family), ...ports]);
  };

  test('a wrong order leaves the service filtered (the probe can say no)', async () => {
    await knockWithDebianClient(4, ['7000:udp', '9000:udp', '8000:tcp'])();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await lab.probeTcp(servicePort, 4, 400), 'filtered');
  });

  test('knock over IPv4 opens port 2222 and cmd_timeout closes it', async () => {
    await assertDoorCycle(4, knockWithDebianClient(4, door));
    assert.match(readFileSync(join(directory, 'knockd.log'), 'utf8'), new RegExp(`${lab.clientAddress(4).replaceAll('.', '\\.')}: door: OPEN SESAME`));
  });

  test('knock over IPv6 opens port 2222 and cmd_timeout closes it', async () => {
    await assertDoorCycle(6, knockWithDebianClient(6, door));
  });

  test("nfknock's own client opens knockd's door", async () => {
    // The client must send from the client namespace, so it runs in a node started there.
    const script = [
      'const [module, host, steps] = process.argv.slice(1);',
      'const { sendKnocks } = await import(module);',
      'await sendKnocks(host, JSON.parse(steps), { delayMs: 50 });',
    ].join('\n');
    const steps = door.map((step) => {
      const [port, protocol] = step.split(':');
      return { port: Number(port), protocol };
    });
    await assertDoorCycle(4, async () => {
      await lab.execOk('client', [
        process.execPath,
        '--input-type=module',
        '-e',
        script,
        pathToFileURL(projectClient).href,
        lab.serverAddress(4),
        JSON.stringify(steps),
      ]);
    });
  });
});
