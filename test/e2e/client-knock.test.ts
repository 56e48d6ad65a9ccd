import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Family, KnockStep } from '../../src/core/types.js';

/**
 * What nfknock's client puts on the wire, measured on the server side of a namespace pair with
 * iptables counters (no capture): per knock port, all packets, pure-SYN packets, UDP packets of the
 * expected length, and an `-m recent` chain that only counts a knock if the previous one came first.
 * Debian's knock(1) runs through the same rig so the two can be compared packet for packet.
 */

const required = process.env.NFKNOCK_E2E === 'required';
const missing = prerequisites();
const skip = missing === undefined ? false : required ? false : `e2e needs ${missing}`;

function prerequisites(): string | undefined {
  if (process.getuid?.() !== 0) return 'root (network namespaces, iptables)';
  for (const tool of ['ip', 'iptables-save', 'ip6tables-save', 'bash']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `the ${tool} command`;
  }
  return undefined;
}

function requirePrerequisites(): void {
  if (missing !== undefined) assert.fail(`NFKNOCK_E2E=required but this e2e test needs ${missing}`);
}

const STEPS: KnockStep[] = [
  { port: 7001, protocol: 'tcp' },
  { port: 7002, protocol: 'udp' },
  { port: 7003, protocol: 'tcp' },
  { port: 7004, protocol: 'udp' },
  { port: 7005, protocol: 'tcp' },
];
/** The initial SYN retransmission timeout is 1 s: waiting longer shows that none follows. */
const SETTLE_MS = 1500;
/** Not a knock port: carries the readiness probes. */
const PROBE_PORT = 9;

const tag = `nfke${process.pid % 100000}`;
const ns = { server: `${tag}s`, client: `${tag}c` };
const addresses = {
  4: { server: '10.79.0.1', client: '10.79.0.2', prefix: 24 },
  6: { server: 'fd79::1', client: 'fd79::2', prefix: 64 },
} as const;

function run(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
}
const inNs = (name: string, command: string, args: string[]) => run('ip', ['netns', 'exec', name, command, ...args]);

function teardown(): void {
  for (const name of [ns.server, ns.client]) spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
}
after(teardown);
process.on('exit', teardown);

function setup(family: Family): void {
  teardown();
  run('ip', ['netns', 'add', ns.server]);
  run('ip', ['netns', 'add', ns.client]);
  run('ip', ['link', 'add', `${tag}a`, 'netns', ns.server, 'type', 'veth', 'peer', 'name', `${tag}b`, 'netns', ns.client]);
  const a = addresses[family];
  run('ip', ['-n', ns.server, 'addr', 'add', `${a.server}/${a.prefix}`, 'dev', `${tag}a`, ...(family === 6 ? ['nodad'] : [])]);
  run('ip', ['-n', ns.client, 'addr', 'add', `${a.client}/${a.prefix}`, 'dev', `${tag}b`, ...(family === 6 ? ['nodad'] : [])]);
  for (const [name, dev] of [[ns.server, `${tag}a`], [ns.client, `${tag}b`]] as const) {
    run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    run('ip', ['-n', name, 'link', 'set', dev, 'up']);
  }
  const iptables = family === 6 ? 'ip6tables' : 'iptables';
  const add = (...rule: string[]) => inNs(ns.server, iptables, ['-A', 'INPUT', '-s', a.client, ...rule]);
  // Neighbour discovery and the readiness probes below are not knocks.
  add('-p', family === 6 ? 'ipv6-icmp' : 'icmp', '-j', 'ACCEPT');
  add('-p', 'udp', '--dport', String(PROBE_PORT), '-m', 'comment', '--comment', 'probe', '-j', 'ACCEPT');
  const udpLength = (family === 6 ? 40 : 20) + 8 + 1;
  STEPS.forEach((step, i) => {
    const match = ['-p', step.protocol, '--dport', String(step.port)];
    add(...match, '-m', 'comment', '--comment', `all ${i}`);
    if (step.protocol === 'tcp') add(...match, '--tcp-flags', 'ALL', 'SYN', '-m', 'comment', '--comment', `shape ${i}`);
    else add(...match, '-m', 'length', '--length', String(udpLength), '-m', 'comment', '--comment', `shape ${i}`);
    const previous = i === 0 ? [] : ['-m', 'recent', '--name', `${tag}o${i - 1}`, '--rcheck'];
    add(...match, ...previous, '-m', 'recent', '--name', `${tag}o${i}`, '--set', '-m', 'comment', '--comment', `order ${i}`);
  });
  add('-m', 'comment', '--comment', 'total');
  add('-j', 'DROP');
}

/** A knock sent while the fresh veth is still coming up can be lost (seen with IPv6): wait until it carries. */
async function waitUntilLinkCarries(family: Family): Promise<void> {
  const target = `/dev/udp/${addresses[family].server}/${PROBE_PORT}`;
  for (let attempt = 0; attempt < 50; attempt++) {
    spawnSync('ip', ['netns', 'exec', ns.client, 'bash', '-c', `echo probe > ${target}`], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    if ((counters(family).get('probe')?.packets ?? 0) > 0) return;
  }
  assert.fail(`the IPv${family} link between the namespaces never came up`);
}

interface Counter {
  packets: number;
  bytes: number;
}

function counters(family: Family): Map<string, Counter> {
  const saved = inNs(ns.server, family === 6 ? 'ip6tables-save' : 'iptables-save', ['-c']);
  const result = new Map<string, Counter>();
  for (const line of saved.split('\n')) {
    const match = /^\[(\d+):(\d+)\] -A INPUT .*--comment "?([a-z]+(?: \d+)?)"?(?: |$)/.exec(line);
    if (match) result.set(match[3] as string, { packets: Number(match[1]), bytes: Number(match[2]) });
  }
  return result;
}

const knockModule = fileURLToPath(new URL('../../src/client/knock.js', import.meta.url));

function knockWithNfknock(family: Family): string {
  const script = `import { sendKnocks } from ${JSON.stringify(knockModule)};
await sendKnocks(${JSON.stringify(addresses[family].server)}, ${JSON.stringify(STEPS)}, { delayMs: 10, family: ${family}, verbose: (l) => console.log(l) });`;
  return inNs(ns.client, process.execPath, ['--input-type=module', '-e', script]);
}

function knockWithDebianKnock(family: Family): string {
  const ports = STEPS.map((s) => `${s.port}:${s.protocol}`);
  return inNs(ns.client, 'knock', ['-v', `-${family}`, '-d', '10', addresses[family].server, ...ports]);
}

async function measure(family: Family, knock: (family: Family) => string): Promise<{ output: string; counts: Map<string, Counter> }> {
  setup(family);
  try {
    await waitUntilLinkCarries(family);
    const output = knock(family);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    return { output, counts: counters(family) };
  } finally {
    teardown();
  }
}

function assertOneClean(counts: Map<string, Counter>, who: string): void {
  STEPS.forEach((step, i) => {
    const what = `${who}: knock ${i} (${step.protocol} ${step.port})`;
    assert.equal(counts.get(`all ${i}`)?.packets, 1, `${what}: exactly one packet`);
    assert.equal(counts.get(`shape ${i}`)?.packets, 1, `${what}: ${step.protocol === 'tcp' ? 'a pure SYN' : 'a 1-byte datagram'}`);
    assert.equal(counts.get(`order ${i}`)?.packets, 1, `${what}: after knock ${i - 1}`);
  });
  assert.equal(counts.get('total')?.packets, STEPS.length, `${who}: nothing else from the client (no retransmission, RST or FIN)`);
}

for (const family of [4, 6] as const) {
  test(`IPv${family}: nfknock sends one SYN per TCP knock and one datagram per UDP knock, in order`, { skip }, async () => {
    requirePrerequisites();
    const { output, counts } = await measure(family, knockWithNfknock);
    assertOneClean(counts, 'nfknock');
    assert.deepEqual(
      output.trim().split('\n'),
      STEPS.map((s) => `hitting ${s.protocol} ${addresses[family].server}:${s.port}`),
    );
  });

  const noKnock = spawnSync('sh', ['-c', 'command -v knock']).status !== 0;
  test(`IPv${family}: Debian's knock puts the same packets on the wire`, { skip: skip || (noKnock && !required ? "Debian's knock is not installed" : false) }, async () => {
    requirePrerequisites();
    const theirs = await measure(family, knockWithDebianKnock);
    assertOneClean(theirs.counts, 'knock');
    const ours = await measure(family, knockWithNfknock);
    for (const [name, counter] of theirs.counts) assert.deepEqual(ours.counts.get(name), counter, `counter "${name}" (packets and bytes)`);
    assert.equal(ours.output, theirs.output, 'same verbose lines');
  });
}
