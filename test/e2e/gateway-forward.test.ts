/**
 * A gateway (issue 16): client | gateway (nfknockd, `nfknock rules --complete --hook forward`) |
 * internal server on its own subnet. Knocking the internal server's address through the gateway
 * opens the forwarded service for that client only, and cmd_timeout closes it again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateRules } from '../../src/rules/generate.js';
import { parseConfig } from '../../src/config/parse.js';
import { createLab, e2eGate, waitFor, type Lab } from '../helpers/lab.js';
import { SERVICE_PORT, nfknockPath, removeDir, startDaemon } from '../helpers/daemon-lab.js';
import { SEED, waitForLog } from '../helpers/hardening-lab.js';

const gate = e2eGate({ tools: ['sysctl'] });

function gatewayDoor(internal: string): string {
  const rule = (verb: string) => `iptables ${verb} FORWARD -s %IP% -d ${internal} -p tcp --dport ${SERVICE_PORT} -j ACCEPT`;
  return ['[internalWeb]', `    sequence = ${SEED.join(',')}`, '    seq_timeout = 5', `    target = ${internal}`, `    start_command = ${rule('-I')}`, '    cmd_timeout = 3', `    stop_command = ${rule('-D')}`, ''].join('\n');
}

/** A TCP connect from the client namespace bound to `source`: open, filtered or closed. */
async function probeFrom(lab: Lab, source: string, host: string): Promise<string> {
  const script = [
    "const net = require('node:net');",
    'const [host, port, localAddress] = process.argv.slice(1);',
    'const say = (word) => { process.stdout.write(word); process.exit(0); };',
    'const socket = net.connect({ host, port: Number(port), localAddress });',
    "setTimeout(() => say('filtered'), 400);",
    "socket.on('connect', () => say('open'));",
    "socket.on('error', (error) => say(error.code === 'ECONNREFUSED' ? 'closed' : 'filtered'));",
  ].join('\n');
  return (await lab.execOk('client', [process.execPath, '-e', script, host, String(SERVICE_PORT), source])).stdout.trim();
}

test('knocking through the gateway opens the internal service for that client only, and cmd_timeout closes it', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lab = await createLab({ name: 'nfkj-gw', internal: true, ipv6: false });
  t.after(() => lab.destroy());
  const internal = lab.internalAddress(4);
  const client = lab.clientAddress(4);
  const other = `10.201.${lab.slot}.3`;
  await lab.execOk('client', ['ip', 'addr', 'add', `${other}/24`, 'dev', lab.clientInterface]);
  const conf = gatewayDoor(internal);
  const rules = generateRules(parseConfig(conf, 'knockd.conf'), { target: 'nflog', group: 5, prefix: 'portknock', family: 4, complete: true, format: 'iptables', hook: 'forward' });
  await lab.loadIptables(rules, 4);
  await lab.startTcpService(SERVICE_PORT, 4, 'internal');
  const daemon = await startDaemon(lab, conf);
  t.after(async () => {
    await daemon.stop();
    await removeDir(daemon.dir);
  });

  assert.equal(await probeFrom(lab, client, internal), 'filtered', 'the gateway forwards nothing before the knock');
  await lab.execOk('client', [process.execPath, nfknockPath, 'knock', internal, ...SEED]);
  await waitForLog(daemon, `${client}: internalWeb: OPEN SESAME`);
  await waitFor(async () => (await probeFrom(lab, client, internal)) === 'open', { timeoutMs: 3000, description: 'the knocking client to reach the internal service' });
  assert.equal(await probeFrom(lab, other, internal), 'filtered', 'another client stays outside');
  await waitFor(async () => (await probeFrom(lab, client, internal)) === 'filtered', { timeoutMs: 8000, description: 'cmd_timeout to close the door' });
  await waitForLog(daemon, 'internalWeb: command timeout');

  // A knock at the gateway's own address is not a knock for the internal host's door.
  // The next knock through the gateway comes after it: its OPEN SESAME must be the second, not the third.
  await lab.execOk('client', [process.execPath, nfknockPath, 'knock', lab.serverAddress(4), ...SEED]);
  await lab.execOk('client', [process.execPath, nfknockPath, 'knock', internal, ...SEED]);
  const log = await waitForLog(daemon, 'internalWeb: OPEN SESAME', { times: 2 });
  assert.equal(log.split('OPEN SESAME').length - 1, 2, log);
});
