/**
 * The scaling benches (issue 14): how the cost of one packet, one reload, one `check` or `rules` run
 * grows with what grows. One scenario and size per process (bench.ts starts it with --expose-gc):
 *
 *   node --expose-gc scaling.js doors|shared|time|reload|check|check-pairs|rules|rules-onetime|open-doors|one-time SIZE
 *
 * Prints one JSON line. Times are CPU time of this process (process.cpuUsage), not wall time: the
 * machine may be shared, and CPU time is what the work costs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NflogDecoder, type NflogBatchHandler } from '../../src/decode/nflog.js';
import { parseConfig } from '../../src/config/parse.js';
import { loadConfig } from '../../src/config/load.js';
import { oneTimeSteps } from '../../src/state/one-time-file.js';
import { checkConfig, formatCheckReport } from '../../src/check/check.js';
import { readListening } from '../../src/check/listening.js';
import { generateRules } from '../../src/rules/generate.js';
import { Matcher } from '../../src/matcher/matcher.js';
import { SequenceBook } from '../../src/matcher/sequences.js';
import { timeSequenceDeriver } from '../../src/timeseq/deriver.js';
import type { Config, Door, KnockEvent, KnockStep } from '../../src/core/types.js';
import { benchConfText, buildMix, buildNflogBatches, rng } from './workload.js';
import { measureAllocation, shiftTimestamps } from './measure.js';
import { configText, oneTimeText } from './scaling-configs.js';
import { openDoorsScenario } from './scaling-open-doors.js';
import { oneTimeScenario } from './scaling-one-time.js';

export interface ScalingResult {
  scenario: string;
  size: number;
  /** The figure the scenario is about (see `unit`). */
  value: number;
  unit: string;
  /** Secondary figures, by name. */
  extra: Record<string, number>;
}

const EPOCH_MICROS = 1_700_000_000_000_000;

function cpuSeconds<T>(body: () => T): { value: T; seconds: number } {
  const start = process.cpuUsage();
  const value = body();
  const used = process.cpuUsage(start);
  return { value, seconds: (used.user + used.system) / 1e6 };
}

async function cpuSecondsAsync<T>(body: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const start = process.cpuUsage();
  const value = await body();
  const used = process.cpuUsage(start);
  return { value, seconds: (used.user + used.system) / 1e6 };
}

/** NFLOG decode + match of the bench's mix with `doors`, as in the in-process bench, for about `seconds` of CPU. */
function decodeAndMatch(config: Config, seconds: number): { perCpuSecond: number; bytesPerEvent: number } {
  const pool = 1 << 18;
  const batches = buildNflogBatches(buildMix(pool).packets, 64, EPOCH_MICROS);
  const matcher = new Matcher(config.doors, { maxAttempts: config.options.maxAttempts, reuseActions: true, onAction: () => undefined });
  let events = 0;
  const handler: NflogBatchHandler = {
    event: (event) => {
      events++;
      matcher.feed(event);
    },
    reject: () => {
      throw new Error("the bench's own NFLOG buffers were rejected");
    },
    control: () => undefined,
  };
  // One decoder for the whole run, as the NFLOG source keeps one.
  const decoder = new NflogDecoder({ prefix: 'portknock' });
  let now = EPOCH_MICROS / 1000;
  let next = 0;
  /** Feeds batches (cycling, time moving on by a second per cycle) until `budget` CPU seconds are spent. */
  const run = (budget: number): number => {
    let spent = 0;
    while (spent < budget) {
      spent += cpuSeconds(() => {
        for (let i = 0; i < 16; i++) {
          decoder.decode(batches[next]!, 0, handler);
          if (++next === batches.length) {
            next = 0;
            now += 1000;
            matcher.tick(now);
            shiftTimestamps(batches, 1);
          }
        }
      }).seconds;
    }
    return spent;
  };
  run(Math.min(1, seconds / 2));
  const before = events;
  let spent = 0;
  const gc = measureAllocation(() => {
    spent = run(seconds);
  });
  const measured = events - before;
  return { perCpuSecond: Math.round(measured / spent), bytesPerEvent: Math.round(gc.allocated / measured) };
}

function doorsScenario(size: number, shared: boolean): ScalingResult {
  // The bench's two doors, plus doors on other first knocks, or (shared) doors whose first knock is
  // the flood's port, so that every scanner packet starts the attempt they share (DoorGroups): one
  // group with the bench's first door, whose second knocks break all the others.
  const extra = Array.from({ length: Math.max(0, size - 2) }, (_, i) => {
    const first = shared ? '7000:tcp' : `${30000 + (i % 30000)}:${i < 30000 ? 'tcp' : 'udp'}`;
    return `[extra${i}]\n    sequence = ${first},${1000 + (i % 20000)}:udp,${21000 + (i % 20000)}:tcp\n    seq_timeout = 5\n    start_command = true\n`;
  });
  const config = parseConfig(`${benchConfText('true', 'true')}\n${extra.join('\n')}`, 'bench.conf');
  const seconds = shared && size > 100 ? 1 : 2;
  const { perCpuSecond, bytesPerEvent } = decodeAndMatch(config, seconds);
  return { scenario: shared ? 'shared' : 'doors', size, value: perCpuSecond, unit: 'events per CPU-second', extra: { bytesPerEvent } };
}

/** A SYN from `source` to `step`: every event of the time scenario has this one shape, as the decoder's do. */
function synAt(source: string, step: KnockStep, at: number): KnockEvent {
  return { source, family: 4, destination: '10.201.1.1', protocol: step.protocol, port: step.port, tcpFlags: 2, at };
}

/** Matcher only: `size` time-based doors against `size` fixed doors, every packet starting one attempt. */
function timeScenario(size: number): ScalingResult {
  const secret = new Uint8Array(32).fill(7);
  const period = 30;
  const base = parseConfig(configText(size, { sequences: 'distinct' }), 'bench.conf').doors;
  const timeDoors: Door[] = base.map((door) => ({
    ...door,
    steps: [],
    timeSequence: { secret, length: 4, portMin: 20000, portMax: 29999, periodSeconds: period, protocols: 'tcp' },
  }));
  const next = rng(0x7153);
  const sources = Array.from({ length: 1 << 16 }, () => `${1 + (next() % 223)}.${next() & 255}.${next() & 255}.${next() & 255}`);
  const measure = (doors: Door[]) => {
    const book = new SequenceBook(timeSequenceDeriver);
    const matcher = new Matcher(doors, { maxAttempts: 65536, reuseActions: true, sequences: book, onAction: () => undefined });
    let at = Math.floor(EPOCH_MICROS / 1000 / (period * 1000)) * period * 1000;
    let perEvent = 0;
    let bytes = 0;
    let refresh = 0;
    let passes = 0;
    for (; passes < 6; passes++) {
      // A new period each pass: the packets go to the first knock of each door's current sequence.
      at += period * 1000;
      const events: KnockEvent[] = sources.map((source, i) => synAt(source, book.candidates(doors[i % doors.length]!, at)[0]!.steps[0]!, at + (i >> 10)));
      // Built like the others: an event of another hidden class (a spread copy) made V8 deoptimize
      // the matcher at every pass, and after a few passes stop optimizing it (64 B/event, boxed times).
      refresh += cpuSeconds(() => matcher.feed(synAt('192.0.2.1', events[0]!, events[0]!.at))).seconds;
      let spent = 0;
      const gc = measureAllocation(() => {
        spent = cpuSeconds(() => {
          // Indexed: an array iterator would allocate its results until the loop is optimised, and count as the matcher's.
          for (let i = 0; i < events.length; i++) matcher.feed(events[i]!);
        }).seconds;
      });
      if (passes === 0) continue; // warm-up
      perEvent += spent / events.length;
      bytes += gc.allocated / events.length;
      matcher.tick(at + 1000);
    }
    return { nsPerEvent: (perEvent / (passes - 1)) * 1e9, bytesPerEvent: bytes / (passes - 1), refreshMs: (refresh / passes) * 1000 };
  };
  const fixed = measure(base);
  const time = measure(timeDoors);
  return {
    scenario: 'time',
    size,
    value: Math.round((time.nsPerEvent / fixed.nsPerEvent) * 100) / 100,
    unit: 'time-based / fixed CPU per packet',
    extra: {
      timeNsPerEvent: Math.round(time.nsPerEvent),
      fixedNsPerEvent: Math.round(fixed.nsPerEvent),
      timeBytesPerEvent: Math.round(time.bytesPerEvent),
      fixedBytesPerEvent: Math.round(fixed.bytesPerEvent),
      periodTurnMs: Math.round(time.refreshMs * 100) / 100,
    },
  };
}

/** A reload with `size` attempts in progress: the same doors re-read, and the doors in another order. */
function reloadScenario(size: number): ScalingResult {
  const text = benchConfText('true', 'true');
  const config = parseConfig(text, 'bench.conf');
  const matcher = new Matcher(config.doors, { maxAttempts: size, onAction: () => undefined });
  for (let i = 0; i < size; i++) {
    const n = 0x01000000 + i;
    matcher.feed({ source: `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`, family: 4, destination: '10.201.1.1', protocol: 'tcp', port: 7000, tcpFlags: 2, at: EPOCH_MICROS / 1000 });
  }
  if (matcher.attemptCount !== size) throw new Error(`expected ${size} attempts, have ${matcher.attemptCount}`);
  const same: number[] = [];
  const reordered: number[] = [];
  for (let i = 0; i < 5; i++) {
    const again = parseConfig(text, 'bench.conf').doors;
    same.push(cpuSeconds(() => matcher.replaceDoors(again)).seconds);
    const reversed = [...parseConfig(text, 'bench.conf').doors].reverse();
    reordered.push(cpuSeconds(() => matcher.replaceDoors(reversed)).seconds);
    matcher.replaceDoors(parseConfig(text, 'bench.conf').doors);
  }
  if (matcher.attemptCount !== size) throw new Error('the reload dropped attempts of unchanged doors');
  const median = (list: number[]) => list.sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
  return { scenario: 'reload', size, value: Math.round(median(same) * 1e6) / 1000, unit: 'ms (same doors re-read)', extra: { reorderedMs: Math.round(median(reordered) * 1e6) / 1000 } };
}

/** What `nfknock check` / `rules` do for a file, in process: load, then check or generate. */
async function commandScenario(kind: 'check' | 'check-pairs' | 'rules' | 'rules-onetime', size: number): Promise<ScalingResult> {
  const dir = mkdtempSync(join(tmpdir(), 'nfknock-scaling-'));
  try {
    const file = join(dir, 'knockd.conf');
    if (kind === 'rules-onetime') {
      writeFileSync(join(dir, 'one-time'), oneTimeText(size), { mode: 0o600 });
      writeFileSync(file, `[options]\n    UseSyslog\n\n[oneTime]\n    One_Time_Sequences = ${join(dir, 'one-time')}\n    tcpflags = syn\n    start_command = true\n`, { mode: 0o600 });
    } else {
      writeFileSync(file, configText(size, { sequences: kind === 'check-pairs' ? 'open-close-pairs' : 'distinct' }), { mode: 0o600 });
    }
    // The config text generated above is the bench's garbage, not the command's: collected before measuring.
    (globalThis as { gc?: () => void }).gc?.();
    const { value: output, seconds } = await cpuSecondsAsync(async () => {
      const config = await loadConfig(file);
      if (kind === 'check' || kind === 'check-pairs') return formatCheckReport(checkConfig(config, await readListening())).length;
      // As `nfknock rules` reads the one-time files (src/rules/command.ts).
      return generateRules(config, { target: 'nflog', group: 5, prefix: 'portknock', family: 4, complete: false, format: 'iptables', oneTimeSteps: await oneTimeSteps(config) }).length;
    });
    return { scenario: kind, size, value: Math.round(seconds * 1000), unit: 'CPU ms', extra: { outputBytes: output } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const [scenario = 'doors', sizeText = '100'] = process.argv.slice(2);
const size = Number(sizeText);
let result: ScalingResult;
switch (scenario) {
  case 'doors':
  case 'shared':
    result = doorsScenario(size, scenario === 'shared');
    break;
  case 'time':
    result = timeScenario(size);
    break;
  case 'reload':
    result = reloadScenario(size);
    break;
  case 'check':
  case 'check-pairs':
  case 'rules':
  case 'rules-onetime':
    result = await commandScenario(scenario, size);
    break;
  case 'open-doors': {
    const figures = await openDoorsScenario(size);
    const round = (n: number) => Math.round(n * 10) / 10;
    result = {
      scenario,
      size,
      value: round(figures.usPerOpen),
      unit: 'CPU µs per open',
      extra: {
        appendUsPerOpen: round(figures.appendUsPerOpen),
        compactionMs: round(figures.compactionMs),
        bytesPerOpen: Math.round(figures.bytesPerOpen),
        wholeFileUsPerOpen: round(figures.wholeFileUsPerOpen),
        wholeFileBytesPerOpen: Math.round(figures.wholeFileBytesPerOpen),
        usPerClose: round(figures.usPerClose),
      },
    };
    break;
  }
  case 'one-time':
    result = await oneTimeScenario(size);
    break;
  default:
    throw new Error(`unknown scenario ${scenario}`);
}
process.stdout.write(`${JSON.stringify(result)}\n`);
