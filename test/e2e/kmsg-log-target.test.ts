import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { KmsgSource } from '../../src/sources/kmsg.js';
import { RecordingSink, waitFor } from '../helpers/logline-sink.js';

/**
 * A real iptables LOG rule in a network namespace produces a knock read from /dev/kmsg; records
 * written to /dev/kmsg by userspace, logger, and packets logged before the source started do not.
 */
const SYSCTL = '/proc/sys/net/netfilter/nf_log_all_netns';
const isRoot = process.getuid?.() === 0;
const required = process.env.NFKNOCK_E2E === 'required';
const skip = !isRoot && !required ? 'needs root (network namespaces, LOG rules, /dev/kmsg)' : false;

const tag = `nfkc${process.pid}`;
const knocker = `${tag}a`;
const server = `${tag}b`;
// Unique per run so LOG lines of other tests running at the same time cannot match.
const prefix = `${tag}-kmsg`;

function run(cmd: string, ...args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function sendSyn(port: number): void {
  // bash's /dev/tcp sends a real SYN; the connection is refused (RST), which is fine.
  spawnSync('ip', ['netns', 'exec', knocker, 'bash', '-c', `echo > /dev/tcp/10.78.0.1/${port}`], { stdio: 'ignore', timeout: 5000 });
}

describe('KmsgSource with a real LOG rule', { skip }, () => {
  let oldSysctl: string | undefined;
  let source: KmsgSource | undefined;
  const sink = new RecordingSink();

  before(() => {
    assert.ok(isRoot, 'NFKNOCK_E2E=required but not running as root');
    oldSysctl = readFileSync(SYSCTL, 'utf8').trim();
    run('ip', 'netns', 'add', knocker);
    run('ip', 'netns', 'add', server);
    run('ip', 'link', 'add', `${tag}k`, 'netns', knocker, 'type', 'veth', 'peer', 'name', `${tag}s`, 'netns', server);
    run('ip', '-n', knocker, 'addr', 'add', '10.78.0.2/24', 'dev', `${tag}k`);
    run('ip', '-n', server, 'addr', 'add', '10.78.0.1/24', 'dev', `${tag}s`);
    run('ip', '-n', knocker, 'link', 'set', `${tag}k`, 'up');
    run('ip', '-n', server, 'link', 'set', `${tag}s`, 'up');
    run('ip', 'netns', 'exec', server, 'iptables', '-A', 'INPUT', '-p', 'tcp', '-j', 'LOG', '--log-prefix', `${prefix}: `);
    // LOG is silent outside the initial namespace unless this is set; restored in after().
    writeFileSync(SYSCTL, '1');
  });

  after(async () => {
    await source?.close();
    if (oldSysctl !== undefined) writeFileSync(SYSCTL, oldSysctl);
    spawnSync('ip', ['netns', 'del', knocker], { stdio: 'ignore' });
    spawnSync('ip', ['netns', 'del', server], { stdio: 'ignore' });
  });

  it('reports the real packet only', async () => {
    sendSyn(7100); // logged before start: must never be replayed
    await new Promise((resolve) => setTimeout(resolve, 200));

    source = new KmsgSource({ prefix, sink, clock: { now: () => Date.now() }, pollMs: 20 });
    await source.start();

    const forged = `${prefix}: IN=${tag}s OUT= MAC= SRC=10.78.0.9 DST=10.78.0.1 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=TCP SPT=1 DPT=7102 WINDOW=512 RES=0x00 SYN URGP=0 `;
    writeFileSync('/dev/kmsg', `${forged}\n`);
    writeFileSync('/dev/kmsg', `<0>${forged}\n`);
    spawnSync('logger', ['-t', 'kernel', '-p', 'kern.warn', forged], { stdio: 'ignore' });

    const sentAt = Date.now();
    sendSyn(7101);
    await waitFor(() => sink.events.length >= 1, 'the knock event');
    await waitFor(() => sink.rejects.filter((r) => r.reason === 'not-kernel' && r.detail?.startsWith(prefix)).length >= 2, 'both forged records rejected');
    await new Promise((resolve) => setTimeout(resolve, 200));

    const ours = sink.events;
    assert.equal(ours.length, 1, `exactly one event, got ${JSON.stringify(ours)}`);
    const event = ours[0];
    assert.ok(event);
    assert.equal(event.port, 7101);
    assert.equal(event.source, '10.78.0.2');
    assert.equal(event.destination, '10.78.0.1');
    assert.equal(event.protocol, 'tcp');
    assert.equal(event.tcpFlags, 0x02);
    assert.equal(event.inInterface, `${tag}s`);
    assert.ok(Math.abs(event.at - sentAt) < 2000, `event time ${event.at} near send time ${sentAt}`);
  });
});
