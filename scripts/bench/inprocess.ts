/**
 * In-process benchmarks, one scenario per process (bench.ts starts this file with --expose-gc, and
 * with --cpu-prof when profiling) so that one scenario's JIT state and heap never colour another's.
 *
 *   node --expose-gc inprocess.js nflog|nflog-decode|nflog-daemon|logline|heap [seconds]
 *
 * Prints one JSON line: events, seconds, events/s, allocated bytes per event and GC counts.
 * Allocation is measured with v8.GCProfiler: bytes allocated = growth of used heap over the run plus
 * what every GC in between freed (used before GC - used after GC).
 */
import v8 from 'node:v8';
import type { DestinationStream } from 'pino';
import { NflogDecoder, type NflogBatchHandler } from '../../src/decode/nflog.js';
import { parseKnockLine } from '../../src/decode/log-line.js';
import { formatIPv4 } from '../../src/core/address.js';
import { Matcher, type MatcherAction } from '../../src/matcher/matcher.js';
import type { Config, KnockEvent } from '../../src/core/types.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { Audit } from '../../src/daemon/audit.js';
import { createLogger } from '../../src/logging/logger.js';
import { NflogSource, type NflogSocket } from '../../src/sources/nflog.js';
import { NFLOG_BUFFER_BYTES, NFLOG_QUEUE_THRESHOLD } from '../../src/sources/nflog-batching.js';
import { benchConfig, buildLogLines, buildMix, buildNflogBatches } from './workload.js';
import { measureAllocation, shiftTimestamps, type GcTotals } from './measure.js';

export interface InProcessResult {
  scenario: string;
  events: number;
  seconds: number;
  /** CPU time of the whole process (all threads, GC helpers included) over the measured part. */
  cpuSeconds: number;
  perSecond: number;
  /** Events per CPU-second: what one core does, less sensitive than wall time to other load. */
  perCpuSecond: number;
  bytesPerEvent: number;
  scavenges: number;
  markSweeps: number;
  actions: Record<string, number>;
  /** heap scenario only */
  heap?: { checkpoints: { events: number; heapUsedMB: number; attempts: number }[]; maxHeapUsedMB: number; baselineMB: number };
  notes?: string;
}

const POOL = 1 << 18; // 262 144 distinct packets; sources repeat only after 4x the attempt cap
/** What one recv() returns under a flood: as many messages as the source's kernel buffer holds. */
const BATCH = { messages: NFLOG_QUEUE_THRESHOLD, bytes: NFLOG_BUFFER_BYTES };
const EPOCH_MICROS = 1_700_000_000_000_000;

let cpuSpent = 0;
/** Accumulates the process's CPU time (user + system) spent in `body`. */
function timedCpu<T>(body: () => T): T {
  const start = process.cpuUsage();
  const value = body();
  const used = process.cpuUsage(start);
  cpuSpent += (used.user + used.system) / 1e6;
  return value;
}

function countingMatcher(config: Config, actions: Record<string, number>): Matcher {
  return new Matcher(config.doors, {
    maxAttempts: config.options.maxAttempts,
    // As the daemon does: its handler keeps no action.
    reuseActions: true,
    onAction: (action: MatcherAction) => {
      actions[action.kind] = (actions[action.kind] ?? 0) + 1;
    },
  });
}

/** Decoder + matcher, the bare hot path (`nflog`), or the decoder alone (`nflog-decode`, to tell their shares apart). */
function nflogScenario(seconds: number, withMatcher = true): InProcessResult {
  const config = benchConfig();
  const { packets } = buildMix(POOL);
  const batches = buildNflogBatches(packets, BATCH.messages, EPOCH_MICROS, BATCH.bytes);
  const poolSeconds = Math.ceil(POOL / 1e6);
  const actions: Record<string, number> = {};
  const matcher = countingMatcher(config, actions);
  let events = 0;
  let rejects = 0;
  const handler: NflogBatchHandler = {
    event: withMatcher
      ? (event) => {
          events++;
          matcher.feed(event);
        }
      : () => {
          events++;
        },
    reject: () => {
      rejects++;
    },
    control: () => undefined,
  };
  // One decoder for the whole run, refilling one event, as the NFLOG source keeps one.
  const decoder = new NflogDecoder({ prefix: 'portknock', reuseEvent: true });
  // Warm up the JIT on one pass, then measure whole passes for about `seconds`.
  for (const batch of batches) decoder.decode(batch, 0, handler);
  shiftTimestamps(batches, poolSeconds);
  let elapsed = 0;
  let measured = 0;
  let now = EPOCH_MICROS / 1000;
  const totals: GcTotals = { allocated: 0, scavenges: 0, markSweeps: 0 };
  while (elapsed < seconds) {
    const startEvents = events;
    let passSeconds = 0;
    const gc = measureAllocation(() =>
      timedCpu(() => {
        const start = process.hrtime.bigint();
        for (const batch of batches) decoder.decode(batch, 0, handler);
        // The daemon ticks the matcher once a second; at 10^6 events/s that is about once a pass.
        now += poolSeconds * 1000;
        matcher.tick(now);
        passSeconds = Number(process.hrtime.bigint() - start) / 1e9;
      }),
    );
    elapsed += passSeconds;
    measured += events - startEvents;
    totals.allocated += gc.allocated;
    totals.scavenges += gc.scavenges;
    totals.markSweeps += gc.markSweeps;
    shiftTimestamps(batches, poolSeconds);
  }
  if (rejects > 0) throw new Error(`the bench's own NFLOG buffers were rejected ${rejects} times`);
  return result(withMatcher ? 'nflog' : 'nflog-decode', measured, elapsed, totals, actions, `attempts in progress at the end: ${matcher.attemptCount}`);
}

/** The daemon's own path: NflogSource.receive -> decode -> interface name -> Daemon sink -> Matcher -> Audit. */
async function nflogDaemonScenario(seconds: number): Promise<InProcessResult> {
  const config = benchConfig();
  const { packets } = buildMix(POOL);
  const batches = buildNflogBatches(packets, BATCH.messages, EPOCH_MICROS, BATCH.bytes);
  const poolSeconds = Math.ceil(POOL / 1e6);
  let now = EPOCH_MICROS / 1000;
  const clock = { now: () => now };
  const nullStream: DestinationStream = { write: () => undefined };
  const logger = createLogger({ level: 'info', destination: nullStream });
  let knockLines = 0;
  const audit = new Audit(logger, [{ write: () => void knockLines++ }], false);
  let deliver: ((msg: Buffer) => void) | undefined;
  const socket: NflogSocket = {
    on: (event: string, listener: (arg: never) => void) => {
      if (event === 'message') deliver = listener as (msg: Buffer) => void;
      return socket;
    },
    send: (msg, _options, callback) => {
      callback?.();
      // ACK every request: nlmsgerr { error 0, the request's header }.
      const ack = Buffer.alloc(36);
      ack.writeUInt32LE(36, 0);
      ack.writeUInt16LE(2, 4);
      ack.writeUInt32LE(msg[8]! | (msg[9]! << 8), 8);
      Buffer.from(msg.subarray(0, 16)).copy(ack, 20);
      setImmediate(() => deliver?.(ack));
    },
    close: () => undefined,
    getRecvBufferSize: () => 8 << 20,
  };
  let commands = 0;
  const daemon = new Daemon(config, {
    clock,
    logger,
    audit,
    state: { record: async () => undefined, saveUsedSteps: async () => undefined },
    runCommand: async () => {
      commands++;
      return { exitCode: 0, signal: null, timedOut: false, stderr: '' };
    },
    commandTimeoutMs: 60_000,
    oneTime: { read: async () => [], markUsed: async () => undefined },
    deriver: { stepsAt: () => [], derive: () => [] },
    openSource: (current, sink) =>
      new NflogSource({ group: 5, prefix: current.options.logPrefix, sink, clock, openSocket: () => socket, sysClassNet: '/nonexistent' }),
    timers: {
      setTimeout: (() => 0) as unknown as typeof setTimeout,
      clearTimeout: () => undefined,
      setInterval: (() => 0) as unknown as typeof setInterval,
      clearInterval: () => undefined,
    },
  });
  await daemon.start();
  const receive = deliver!;
  const pass = async (): Promise<void> => {
    for (let i = 0; i < batches.length; i++) {
      receive(batches[i]!);
      // Let the door operations (promises) run as the event loop would between two recv() batches of 32.
      if ((i & 31) === 31) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    now += poolSeconds * 1000;
  };
  await pass();
  shiftTimestamps(batches, poolSeconds);
  const startEvents = daemon.counters.events;
  const gcTotals: GcTotals = { allocated: 0, scavenges: 0, markSweeps: 0 };
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const profiler = new v8.GCProfiler();
  const before = v8.getHeapStatistics().used_heap_size;
  profiler.start();
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  let elapsed = 0;
  while (elapsed < seconds) {
    await pass();
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    shiftTimestamps(batches, poolSeconds); // not allocation-free, but a few bytes per batch
  }
  const cpu = process.cpuUsage(cpuStart);
  cpuSpent = (cpu.user + cpu.system) / 1e6;
  const after = v8.getHeapStatistics().used_heap_size;
  for (const entry of profiler.stop()?.statistics ?? []) {
    gcTotals.allocated += entry.beforeGC.heapStatistics.usedHeapSize - entry.afterGC.heapStatistics.usedHeapSize;
    if (entry.gcType === 'Scavenge' || entry.gcType === 'MinorMarkSweep') gcTotals.scavenges++;
    else gcTotals.markSweeps++;
  }
  gcTotals.allocated += after - before;
  const events = daemon.counters.events - startEvents;
  await daemon.stop();
  const rejects = Object.fromEntries(daemon.counters.rejects);
  return result('nflog-daemon', events, elapsed, gcTotals, { ...rejects, knockLines, commands }, `Daemon + NflogSource (fake socket) + Audit to a null pino stream`);
}

/** parseLogLine + matcher over kernel LOG lines, as the kmsg and file sources feed them. */
function logLineScenario(seconds: number): InProcessResult {
  const config = benchConfig();
  const { packets } = buildMix(POOL >> 1);
  const lines = buildLogLines(packets, 'portknock');
  const actions: Record<string, number> = {};
  const matcher = countingMatcher(config, actions);
  let at = EPOCH_MICROS / 1000;
  let rejects = 0;
  const runPass = (): number => {
    let events = 0;
    for (const line of lines) {
      at += 0.001;
      const decoded = parseKnockLine(line, 'portknock', Math.floor(at));
      if (!decoded.ok) {
        rejects++;
        continue;
      }
      events++;
      matcher.feed(decoded.value);
    }
    matcher.tick(Math.floor(at));
    return events;
  };
  runPass();
  let elapsed = 0;
  let measured = 0;
  const totals: GcTotals = { allocated: 0, scavenges: 0, markSweeps: 0 };
  while (elapsed < seconds) {
    let passSeconds = 0;
    let events = 0;
    const gc = measureAllocation(() =>
      timedCpu(() => {
        const start = process.hrtime.bigint();
        events = runPass();
        passSeconds = Number(process.hrtime.bigint() - start) / 1e9;
      }),
    );
    elapsed += passSeconds;
    measured += events;
    totals.allocated += gc.allocated;
    totals.scavenges += gc.scavenges;
    totals.markSweeps += gc.markSweeps;
  }
  if (rejects > 0) throw new Error(`the bench's own LOG lines were rejected ${rejects} times`);
  return result('logline', measured, elapsed, totals, actions, `attempts in progress at the end: ${matcher.attemptCount}`);
}

/** Millions of distinct sources through the matcher with the default cap: the heap must level off. */
function heapScenario(totalEvents: number): InProcessResult {
  const config = benchConfig();
  const actions: Record<string, number> = {};
  const matcher = countingMatcher(config, actions);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the heap scenario needs --expose-gc');
  gc();
  const baseline = process.memoryUsage().heapUsed;
  const checkpoints: { events: number; heapUsedMB: number; attempts: number }[] = [];
  const address = new Uint8Array(4);
  const step = 500_000;
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  let at = EPOCH_MICROS / 1000;
  for (let i = 0; i < totalEvents; i++) {
    // Every source distinct: 1.0.0.0 upwards, one SYN each at the first knock port, 1 us apart.
    const n = 0x01000000 + i;
    address[0] = n >>> 24;
    address[1] = (n >>> 16) & 0xff;
    address[2] = (n >>> 8) & 0xff;
    address[3] = n & 0xff;
    at += 0.001;
    const event: KnockEvent = { source: formatIPv4(address, 0), family: 4, destination: '10.201.1.1', protocol: 'tcp', port: 7000, tcpFlags: 2, at: Math.floor(at) };
    matcher.feed(event);
    if ((i + 1) % 1_000_000 === 0) matcher.tick(Math.floor(at));
    if ((i + 1) % step === 0) {
      gc();
      checkpoints.push({ events: i + 1, heapUsedMB: mb(process.memoryUsage().heapUsed), attempts: matcher.attemptCount });
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  cpuSpent = (cpu.user + cpu.system) / 1e6;
  const maxHeapUsedMB = Math.max(...checkpoints.map((c) => c.heapUsedMB));
  return {
    ...result('heap', totalEvents, seconds, { allocated: 0, scavenges: 0, markSweeps: 0 }, actions),
    heap: { checkpoints, maxHeapUsedMB, baselineMB: mb(baseline) },
  };
}

function mb(bytes: number): number {
  return Math.round((bytes / 1048576) * 10) / 10;
}

function result(scenario: string, events: number, seconds: number, gc: GcTotals, actions: Record<string, number>, notes?: string): InProcessResult {
  return {
    scenario,
    events,
    seconds: Math.round(seconds * 1000) / 1000,
    cpuSeconds: Math.round(cpuSpent * 1000) / 1000,
    perSecond: Math.round(events / seconds),
    perCpuSecond: Math.round(events / cpuSpent),
    bytesPerEvent: events > 0 ? Math.round(gc.allocated / events) : 0,
    scavenges: gc.scavenges,
    markSweeps: gc.markSweeps,
    actions,
    ...(notes ? { notes } : {}),
  };
}

const [scenario = 'nflog', amount] = process.argv.slice(2);
const seconds = Number(amount ?? '3');
let output: InProcessResult;
switch (scenario) {
  case 'nflog':
    output = nflogScenario(seconds);
    break;
  case 'nflog-decode':
    output = nflogScenario(seconds, false);
    break;
  case 'nflog-daemon':
    output = await nflogDaemonScenario(seconds);
    break;
  case 'logline':
    output = logLineScenario(seconds);
    break;
  case 'heap':
    output = heapScenario(Number(amount ?? '4000000'));
    break;
  default:
    throw new Error(`unknown scenario ${scenario}: nflog, nflog-decode, nflog-daemon, logline or heap`);
}
process.stdout.write(`${JSON.stringify(output)}\n`);
