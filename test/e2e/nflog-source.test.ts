import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { createLab, e2eGate, outputOf, stopProcessGroup, waitFor, type Lab } from '../helpers/lab.js';

const gate = e2eGate();
const runner = fileURLToPath(new URL('../helpers/nflog-source-runner.js', import.meta.url));
const group = 7;

interface Line {
  type: string;
  [key: string]: unknown;
}

function lines(child: ChildProcess): Line[] {
  return outputOf(child)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

async function startSource(lab: Lab, interfaceName?: string): Promise<ChildProcess> {
  const child = lab.spawn('server', [process.execPath, runner, String(group), 'portknock', ...(interfaceName ? [interfaceName] : [])]);
  const started = await waitFor(() => lines(child).find((l) => l.type === 'started' || l.type === 'failed'), {
    timeoutMs: 10_000,
    description: 'the NFLOG source to start',
  });
  assert.equal(started.type, 'started', JSON.stringify(started));
  return child;
}

/** Sends one UDP datagram or one TCP SYN from the client namespace and waits for the outcome. */
async function knock(lab: Lab, family: 4 | 6, protocol: 'tcp' | 'udp', port: number): Promise<void> {
  const script =
    protocol === 'udp'
      ? "const s = require('node:dgram').createSocket(process.argv[3] === '6' ? 'udp6' : 'udp4'); s.send('k', Number(process.argv[2]), process.argv[1], () => s.close());"
      : "const c = require('node:net').connect({ host: process.argv[1], port: Number(process.argv[2]) }); c.on('error', () => {}); c.on('connect', () => c.destroy()); setTimeout(() => process.exit(0), 300);";
  await lab.execOk('client', [process.execPath, '-e', script, lab.serverAddress(family), String(port), String(family)]);
}

const rules4 = (g: number) => `*filter
-A INPUT -p udp --dport 7000 -j NFLOG --nflog-group ${g} --nflog-prefix portknock
-A INPUT -p udp --dport 7001 -j NFLOG --nflog-group ${g} --nflog-prefix portknockX
-A INPUT -p tcp --dport 7002 -j NFLOG --nflog-group ${g} --nflog-prefix portknock
COMMIT
`;
const rules6 = (g: number) => `*filter
-A INPUT -p tcp --dport 8000 -j NFLOG --nflog-group ${g} --nflog-prefix portknock
-A INPUT -p udp --dport 8001 -j NFLOG --nflog-group ${g} --nflog-prefix portknock
COMMIT
`;

test('NFLOG knocks over IPv4 and IPv6 reach the sink with every field; other prefixes and interfaces are rejected', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lab = await createLab({ name: 'nfkb' });
  t.after(() => lab.destroy());
  await lab.loadIptables(rules4(group), 4);
  await lab.loadIptables(rules6(group), 6);

  const source = await startSource(lab);
  const before = Date.now();
  await knock(lab, 4, 'udp', 7000);
  await knock(lab, 4, 'udp', 7001);
  await knock(lab, 4, 'tcp', 7002);
  await knock(lab, 6, 'tcp', 8000);
  await knock(lab, 6, 'udp', 8001);
  const received = await waitFor(
    () => {
      const seen = lines(source).filter((l) => l.type === 'event' || l.type === 'reject');
      return seen.length >= 5 ? seen : undefined;
    },
    { timeoutMs: 10_000, description: 'five NFLOG messages' },
  );
  const after = Date.now();
  const common = { inInterface: lab.serverInterface };
  const v4 = { source: lab.clientAddress(4), family: 4, destination: lab.serverAddress(4) };
  const v6 = { source: lab.clientAddress(6), family: 6, destination: lab.serverAddress(6) };
  const withoutTime = received.map((l) => {
    if (l.type !== 'event') return l;
    const { at, ...event } = l['event'] as { at: number };
    assert.ok(at >= before - 1000 && at <= after + 1000, `event time ${at} outside [${before}, ${after}]`);
    return { type: 'event', event };
  });
  assert.deepEqual(withoutTime, [
    { type: 'event', event: { ...v4, protocol: 'udp', port: 7000, tcpFlags: 0, ...common } },
    { type: 'reject', reason: 'prefix-mismatch' },
    { type: 'event', event: { ...v4, protocol: 'tcp', port: 7002, tcpFlags: 0x02, ...common } },
    { type: 'event', event: { ...v6, protocol: 'tcp', port: 8000, tcpFlags: 0x02, ...common } },
    { type: 'event', event: { ...v6, protocol: 'udp', port: 8001, tcpFlags: 0, ...common } },
  ]);
  assert.equal(lines(source).filter((l) => l.type === 'overrun' || l.type === 'trouble').length, 0);

  // A second reader cannot take the group while the first holds it, and says so.
  const rival = lab.spawn('server', [process.execPath, runner, String(group), 'portknock']);
  const failure = await waitFor(() => lines(rival).find((l) => l.type === 'failed' || l.type === 'started'), {
    timeoutMs: 10_000,
    description: 'the rival source to fail',
  });
  assert.equal(failure.type, 'failed');
  assert.equal(failure['code'], 'NFK_SOURCE_UNAVAILABLE');
  assert.match(String(failure['message']), new RegExp(`NFLOG group ${group} is already bound`));

  // close() unbinds, so the group is free for the next reader, which filters on another interface.
  source.kill('SIGTERM');
  await waitFor(() => lines(source).some((l) => l.type === 'closed'), { timeoutMs: 5000, description: 'the source to close' });
  await stopProcessGroup(source, 1000);
  const filtered = await startSource(lab, 'lo');
  await knock(lab, 4, 'udp', 7000);
  const rejected = await waitFor(() => lines(filtered).find((l) => l.type === 'reject' || l.type === 'event'), {
    timeoutMs: 10_000,
    description: 'the interface rejection',
  });
  assert.equal(rejected.type, 'reject');
  assert.equal(rejected['reason'], 'wrong-interface');
  assert.match(String(rejected['detail']), new RegExp(`${lab.serverInterface}`));
});
