/**
 * End-to-end runs: a two-namespace lab, nfknockd (NFLOG) or Debian's knockd (pcap on the veth) in the
 * server namespace, hping3 --rand-source SYNs at the door's first port from the client namespace, and
 * a real `nfknock knock` two seconds in. Every flood is bounded by a packet count and by `timeout`.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { parseConfig } from '../../src/config/parse.js';
import { generateRules } from '../../src/rules/generate.js';
import { outputOf, sleep, stopProcessGroup, waitFor, type Lab } from '../lib/netns.js';
import { BENCH_PORTS, SERVICE_PORT, benchConfText } from './workload.js';
import { findProcess, sampleProcess, type ProcSample } from './proc.js';

const nfknockdPath = fileURLToPath(new URL('../../src/cli/nfknockd.js', import.meta.url));
const nfknockPath = fileURLToPath(new URL('../../src/cli/nfknock.js', import.meta.url));

export type DaemonKind = 'nfknockd' | 'knockd';
export type FloodMode = 'fixed' | 'flood';

export interface FloodPlan {
  mode: FloodMode;
  seconds: number;
  /** Fixed mode: hping3 -i u<intervalMicros>, -c rate*seconds. */
  intervalMicros: number;
}

export interface E2eResult {
  daemon: DaemonKind;
  mode: FloodMode;
  /** hping3's "packets transmitted", plus the 3 knocks. */
  sent: number;
  floodSeconds: number;
  sentPerSecond: number;
  /** Packets the kernel's NFLOG rules matched (iptables counters): what nfknockd could receive. */
  kernelLogged: number;
  /** nfknockd's counters.events (+ rejects) from its 'stopping' record; undefined for knockd. */
  received?: number;
  rejected?: number;
  overruns?: number;
  evictions?: number;
  receiveBufferBytes?: number;
  opened: boolean;
  /** From the client printing its last knock to the daemon logging OPEN / running the command. */
  knockToOpenMs?: number;
  knockToCommandMs?: number;
  /** From the start command's own `date` stamp: the same clock for both daemons. */
  knockToCommandStampMs?: number;
  /** CPU (utime + stime) of the daemon process from flood start to flood end. */
  cpuSeconds: number;
  /** The part of cpuSeconds spent in the kernel (stime). */
  systemCpuSeconds: number;
  cpuPercentOfOneCore: number;
  peakRssMB: number;
  notes: string[];
}

interface LabRun {
  lab: Lab;
  dir: string;
}

/** Loads the generated complete NFLOG firewall (fresh counters) into the server namespace. */
async function loadFirewall(lab: Lab, confText: string): Promise<void> {
  const config = parseConfig(confText, 'knockd.conf');
  const text = generateRules(config, { target: 'nflog', group: 5, prefix: 'portknock', family: 4, complete: true, format: 'iptables' });
  await lab.loadIptables(text, 4);
}

/** Sum of the packet counters of the NFLOG rules: every knock the kernel tried to hand to nfknockd. */
async function kernelLoggedPackets(lab: Lab): Promise<number> {
  const result = await lab.execOk('server', ['iptables', '-t', 'filter', '-L', 'NFKNOCK', '-v', '-x', '-n']);
  let total = 0;
  for (const line of result.stdout.split('\n')) {
    if (!line.includes('NFLOG')) continue;
    const packets = Number(line.trim().split(/\s+/)[0]);
    if (Number.isFinite(packets)) total += packets;
  }
  return total;
}

function confFor(run: LabRun, lab: Lab, kind: DaemonKind): string {
  const stamp = join(run.dir, 'opened.log');
  // The same command for both daemons: stamp the time (ms) it ran, then open the service port.
  const start = `echo %IP% $(date +%s%3N) >> ${stamp}; iptables -I INPUT -s %IP% -p tcp --dport ${SERVICE_PORT} -j ACCEPT`;
  const stop = `iptables -D INPUT -s %IP% -p tcp --dport ${SERVICE_PORT} -j ACCEPT`;
  const doors = benchConfText(start, stop);
  if (kind === 'nfknockd') return doors;
  return ['[options]', `    LogFile = ${join(run.dir, 'knockd.log')}`, `    Interface = ${lab.serverInterface}`, '', doors].join('\n');
}

interface StartedDaemon {
  child: ChildProcess;
  pid: number;
}

async function startDaemonProcess(run: LabRun, lab: Lab, kind: DaemonKind, confPath: string, nodeOptions?: string): Promise<StartedDaemon> {
  const argv =
    kind === 'nfknockd'
      ? [process.execPath, nfknockdPath, '-c', confPath, '-g', join(run.dir, 'nfknockd.log'), '--state-dir', join(run.dir, 'state'), '--stats-file', join(run.dir, 'stats.json')]
      : ['knockd', '-c', confPath, '-i', lab.serverInterface];
  // Exactly the options asked for (the unit's by default): none inherited from the shell running the bench.
  const child = lab.spawn('server', argv, kind === 'nfknockd' ? { env: { NODE_OPTIONS: nodeOptions ?? '' } } : {});
  const name = kind === 'nfknockd' ? 'node' : 'knockd';
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`${kind} exited with ${child.exitCode}:\n${outputOf(child)}`);
      if (kind === 'nfknockd') return outputOf(child).includes('starting up');
      return (await readFile(join(run.dir, 'knockd.log'), 'utf8').catch(() => '')).includes('starting up');
    },
    { timeoutMs: 15_000, intervalMs: 50, description: `${kind} to start` },
  );
  const pid = findProcess(child.pid as number, name);
  if (pid === undefined) throw new Error(`cannot find the ${name} process of ${kind} under pid ${child.pid}`);
  return { child, pid };
}

/** hping3's own count, from "N packets transmitted". */
function transmitted(output: string): number | undefined {
  const match = /(\d+) packets transmitted/.exec(output);
  return match ? Number(match[1]) : undefined;
}

interface PinoRecord {
  time?: string;
  event?: string;
  source?: string;
  msg?: string;
  counters?: { events: number; overruns: number; evictions: number; rejects: Record<string, number> };
  obtained?: number;
}

function pinoRecords(text: string): PinoRecord[] {
  const records: PinoRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      records.push(JSON.parse(line) as PinoRecord);
    } catch {
      // a line cut by the output limit
    }
  }
  return records;
}

/** One run: start the daemon, flood, knock at 2 s, measure, stop the daemon. */
export async function runE2e(lab: Lab, kind: DaemonKind, plan: FloodPlan, log: (line: string) => void, nodeOptions?: string): Promise<E2eResult> {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-bench-'));
  const run: LabRun = { lab, dir };
  const notes: string[] = [];
  const confText = confFor(run, lab, kind);
  const confPath = join(dir, 'knockd.conf');
  await writeFile(confPath, confText, { mode: 0o600 });
  await loadFirewall(lab, confText);
  const daemon = await startDaemonProcess(run, lab, kind, confPath, nodeOptions);
  if (kind === 'nfknockd' && nodeOptions) notes.push(`nfknockd ran with NODE_OPTIONS="${nodeOptions}"`);
  const server = lab.serverAddress(4);
  const client = lab.clientAddress(4);
  try {
    await sleep(300);
    const hpingArgv =
      plan.mode === 'fixed'
        ? ['hping3', '-q', '--rand-source', '-S', '-p', String(BENCH_PORTS[0]), '-i', `u${plan.intervalMicros}`, '-c', String(Math.round((plan.seconds * 1e6) / plan.intervalMicros)), server]
        : ['hping3', '-q', '--rand-source', '-S', '-p', String(BENCH_PORTS[0]), '--flood', server];
    // SIGINT makes hping3 print its statistics; -k SIGKILLs it if it ignores that.
    const floodArgv = ['timeout', '-s', 'INT', '-k', '3', String(plan.seconds + (plan.mode === 'fixed' ? 3 : 0)), ...hpingArgv];
    const before = sampleProcess(daemon.pid) as ProcSample;
    const floodStart = Date.now();
    log(`  ${kind}, ${plan.mode}: ${hpingArgv.join(' ')}`);
    const flood = lab.exec('client', floodArgv, { timeoutMs: (plan.seconds + 10) * 1000 });

    // The real knock, two seconds in, timed by the client's own "hitting tcp ...:9000" line.
    await sleep(2000);
    let knockedAt = 0;
    const knocker = lab.spawn('client', [process.execPath, nfknockPath, 'knock', '-v', server, ...BENCH_PORTS.map(String)]);
    const lastPort = `:${BENCH_PORTS[BENCH_PORTS.length - 1]}`;
    knocker.stdout?.on('data', () => {
      if (knockedAt === 0 && outputOf(knocker).includes(lastPort)) knockedAt = Date.now();
    });
    await new Promise<void>((resolve) => knocker.once('exit', () => resolve()));
    if (knockedAt === 0) {
      notes.push(`the knock client printed no line for its last knock: ${outputOf(knocker).trim()}`);
      knockedAt = Date.now();
    }

    // Sample the daemon while the flood runs: its CPU and memory right at the end of the flood count.
    let last = before;
    let floodDone = false;
    const floodResult = flood.then((result) => {
      floodDone = true;
      return result;
    });
    while (!floodDone) {
      last = sampleProcess(daemon.pid) ?? last;
      await sleep(100);
    }
    const floodEnd = Date.now();
    last = sampleProcess(daemon.pid) ?? last;
    const hping = await floodResult;
    const sentByHping = transmitted(hping.stdout + hping.stderr);
    if (sentByHping === undefined) notes.push(`hping3 printed no statistics (exit ${hping.code}): ${(hping.stderr || hping.stdout).trim().slice(-200)}`);
    const floodSeconds = (floodEnd - floodStart) / 1000;

    // Let the daemon drain its socket and run the command, then read the stamps.
    await sleep(1500);
    const stamps = (await readFile(join(dir, 'opened.log'), 'utf8').catch(() => ''))
      .split('\n')
      .filter((line) => line.startsWith(`${client} `))
      .map((line) => Number(line.split(' ')[1]));
    const kernelLogged = await kernelLoggedPackets(lab);
    const cpuSeconds = last.cpuSeconds - before.cpuSeconds;
    const result: E2eResult = {
      daemon: kind,
      mode: plan.mode,
      sent: (sentByHping ?? 0) + BENCH_PORTS.length,
      floodSeconds,
      sentPerSecond: Math.round((sentByHping ?? 0) / floodSeconds),
      kernelLogged,
      opened: stamps.length > 0,
      cpuSeconds,
      systemCpuSeconds: Math.round((last.systemSeconds - before.systemSeconds) * 100) / 100,
      cpuPercentOfOneCore: Math.round((cpuSeconds / floodSeconds) * 1000) / 10,
      peakRssMB: Math.round(last.peakRssMB * 10) / 10,
      notes,
    };
    if (stamps[0] !== undefined) result.knockToCommandStampMs = stamps[0] - knockedAt;

    await stopProcessGroup(daemon.child, 5000);
    if (kind === 'nfknockd') {
      const records = pinoRecords(outputOf(daemon.child));
      const stopping = records.find((record) => record.msg === 'stopping');
      const counters = stopping?.counters;
      if (counters) {
        result.received = counters.events;
        result.rejected = Object.values(counters.rejects).reduce((sum, n) => sum + n, 0);
        result.overruns = counters.overruns;
        result.evictions = counters.evictions;
      } else {
        const tail = outputOf(daemon.child).trim().split('\n').slice(-3).join(' | ').slice(-400);
        notes.push(`nfknockd logged no stopping record with counters (exit ${daemon.child.exitCode ?? daemon.child.signalCode}); last output: ${tail}`);
      }
      const buffer = records.find((record) => record.obtained !== undefined);
      if (buffer?.obtained !== undefined) result.receiveBufferBytes = buffer.obtained;
      const open = records.find((record) => record.event === 'open' && record.source === client);
      const command = records.find((record) => record.event === 'command' && record.source === client);
      if (open?.time) result.knockToOpenMs = Date.parse(open.time) - knockedAt;
      if (command?.time) result.knockToCommandMs = Date.parse(command.time) - knockedAt;
    }
    return result;
  } finally {
    await stopProcessGroup(daemon.child, 2000);
    await rm(dir, { recursive: true, force: true });
  }
}
