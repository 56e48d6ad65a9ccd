import type { Config, Door, Family, Protocol } from '../core/types.js';
import { DoorKeeper } from '../doors/door-keeper.js';
import { decideOpen } from '../doors/open-decision.js';
import { describeClose, describeOpen } from '../firewall/door-calls.js';
import { Matcher, type MatcherAction } from '../matcher/matcher.js';
import { SequenceBook, type OneTimeLine, type TimeSequenceDeriver } from '../matcher/sequences.js';
import { SyslogReplayGuard } from '../decode/syslog.js';
import { decodeInputLine, type ClockKind, type InputFormat, type LineContext } from './input.js';

/**
 * `nfknock simulate`: a kernel log replayed through the daemon's own decode -> Matcher -> DoorKeeper
 * path (the same open decision, src/doors/open-decision.ts), in virtual time taken from the log, with a runner that records instead of running. Pure: the
 * caller reads the files and passes the clock-dependent values in.
 *
 * Virtual time follows the log. Before each knock, the matcher's tick runs on the whole-second grid
 * (as the daemon's 1 s timer does) and door closes are taken from the DoorKeeper at their exact
 * deadline, so a door opened at T with Cmd_Timeout 10 closes at T+10 s even when the next line is an
 * hour later. After the last line, time runs on until every attempt has expired and every door closed;
 * those events are marked `afterInput`.
 */
export interface SimulateOptions {
  /** Defaults to the config's LogPrefix. */
  prefix?: string;
  /** Anchors stamps without a year (traditional syslog): the year that puts the first one closest to this. */
  reference: number;
  utcOffsetAt(epochMs: number): number;
  /** Epoch ms of the boot, to put kmsg/dmesg stamps on the wall clock. */
  bootTimeMs?: number;
  /** Unused lines of each one-time door's file, by door name (consumed in memory only). */
  oneTimeLines?: ReadonlyMap<string, OneTimeLine[]>;
  /** Time-based doors need it (src/timeseq/deriver.ts); without it they never open. */
  deriver?: TimeSequenceDeriver;
  /** Keep every skipped line with its number and reason (for --verbose). */
  keepSkippedLines?: boolean;
  /** The input is the dedicated file of rules/rsyslog-nfknock.conf, which only the kernel can write to. */
  dedicatedKernelLog?: boolean;
}

interface Located {
  at: number;
  source: string;
  family: Family;
  door: string;
  /** Input line of the knock that caused it; undefined for what happens as time passes. */
  line?: number;
  /** Happened after the last line of input, while virtual time ran on. */
  afterInput?: boolean;
}

export type SimulatedEvent =
  | (Located & { kind: 'stage'; stage: number })
  | (Located & { kind: 'broken'; stage: number; port: number; protocol: Protocol })
  | (Located & { kind: 'timeout'; stage: number })
  | (Located & { kind: 'evicted'; stage: number })
  | (Located & { kind: 'replay'; sequence: string })
  | (Located & SimulatedOpen)
  | (Located & { kind: 'close'; stopCommand: string; openedAt: number });

export interface SimulatedOpen extends Located {
  kind: 'open';
  /** 'fixed', 'line:<n>' (one-time file line) or 'step:<t>' (time step). */
  sequence: string;
  /** `start`: the start command runs; `extend`: already open for this source, only the deadline moves. */
  effect: 'start' | 'extend';
  /** Substituted, exactly what would run; undefined when the door has none (or on `extend`). */
  startCommand?: string;
  /** Substituted stop command and its deadline, when the door closes by itself. */
  stopCommand?: string;
  closesAt?: number;
  previousClosesAt?: number;
}

export interface SkippedLine {
  line: number;
  reason: string;
  text: string;
}

export interface SimulationReport {
  /** `boot`: times are ms since boot (kmsg/dmesg without a boot time); `wall`: epoch ms. */
  clock: ClockKind;
  /** Every stage, broken sequence, timeout, open and close, in time order. */
  events: SimulatedEvent[];
  /** The `open` events alone: compare them with the daemon's OPEN SESAME lines. */
  opens: SimulatedOpen[];
  /** Lines read. */
  lines: number;
  /** Lines that decoded to a knock. */
  knocks: number;
  formats: Partial<Record<InputFormat, number>>;
  /** Lines that were not knocks, counted by reason. */
  skipped: Record<string, number>;
  skippedLines: SkippedLine[];
  /** Time of the first and last knock read, when there was one. */
  firstKnockAt?: number;
  lastKnockAt?: number;
  warnings: string[];
}

/** Longest stretch of skipped lines kept in memory for --verbose, so a huge file cannot exhaust it. */
const MAX_KEPT_SKIPPED_LINES = 100_000;
const SKIPPED_TEXT_CHARS = 200;
const TICK_MS = 1000;
/** Stamps this much earlier than the newest one are worth a warning (syslog reorders by a few ms). */
const BACKWARDS_TOLERANCE_MS = 1000;

/**
 * The reference that gives stamps without a year the year `year`: the middle of that year is nearer
 * to each of its days than to any day of another year (a stamp of exactly Jan 1 00:00:00 of the next
 * year ties, and ties go to the earlier year, i.e. to `year`).
 */
export function referenceForYear(year: number): number {
  return (Date.UTC(year, 0, 1) + Date.UTC(year + 1, 0, 1)) / 2;
}

/** Replays a whole log; see Simulation for feeding one line at a time. */
export function simulate(lines: Iterable<string>, config: Config, options: SimulateOptions): SimulationReport {
  const simulation = new Simulation(config, options);
  for (const line of lines) simulation.line(line);
  return simulation.finish();
}

/**
 * The replay, one line at a time, so that the edge can stream a large file: memory grows with the
 * knocks found (and with the skipped lines only when they are kept), not with the file.
 */
export class Simulation {
  private readonly report: SimulationReport = { clock: 'wall', events: [], opens: [], lines: 0, knocks: 0, formats: {}, skipped: {}, skippedLines: [], warnings: [] };
  private readonly keeper = new DoorKeeper();
  private readonly matcher: Matcher;
  private readonly context: LineContext;
  private now: number | undefined;
  private clock: ClockKind | undefined;
  /** Set while a knock is fed, so that what it causes carries its line; ticks and closes do not. */
  private feeding = false;
  private afterInput = false;
  private finished = false;
  private imprecise = 0;
  private unverified = 0;
  private backwards = { count: 0, largestMs: 0 };

  constructor(
    private readonly config: Config,
    private readonly options: SimulateOptions,
  ) {
    const sequences = new SequenceBook(options.deriver);
    for (const door of config.doors) {
      if (door.oneTimeFile !== undefined) sequences.setOneTimeLines(door.name, options.oneTimeLines?.get(door.name) ?? []);
    }
    this.matcher = new Matcher(config.doors, {
      maxAttempts: config.options.maxAttempts,
      sequences,
      // A shared first stage's action stands for each of its doors: one event per door, as knockd logs.
      onAction: (action) => {
        if (action.kind === 'open' || action.kind === 'replay') this.record(toEvent(action, action.door, this.keeper));
        else for (const door of action.doors) this.record(toEvent(action, door, this.keeper));
      },
    });
    this.context = {
      prefix: options.prefix ?? config.options.logPrefix,
      reference: options.reference,
      utcOffsetAt: options.utcOffsetAt,
      ...(config.options.interface === undefined ? {} : { interface: config.options.interface }),
      ...(options.bootTimeMs === undefined ? {} : { bootTimeMs: options.bootTimeMs }),
    };
  }

  private readonly replayGuard = new SyslogReplayGuard();

  line(text: string): void {
    const report = this.report;
    report.lines++;
    const decoded = decodeInputLine(text, this.context);
    if (!decoded.ok) return this.skip(decoded.reason, text);
    this.clock ??= decoded.clock;
    if (decoded.clock !== this.clock) {
      return this.skip(decoded.clock === 'boot' ? 'boot-clock-among-wall-clock-lines' : 'wall-clock-among-boot-clock-lines', text);
    }
    // An rsyslog restart (imkmsg) writes the kernel's ring buffer into the file again; the daemon's
    // file source refuses such lines with this guard, so the replay of the same file must too.
    if (decoded.format.startsWith('syslog') && this.replayGuard.isReplay({ timestamp: decoded.event.at, precise: decoded.precise, message: kernelMessageOf(text) })) {
      return this.skip('replayed', text);
    }
    report.knocks++;
    report.formats[decoded.format] = (report.formats[decoded.format] ?? 0) + 1;
    if (!decoded.precise) this.imprecise++;
    if (!decoded.kernelVerified) this.unverified++;
    const event = decoded.event;
    if (this.clock === 'wall') this.context.reference = event.at;
    if (this.now !== undefined && event.at < this.now) {
      const behind = this.now - event.at;
      if (behind > BACKWARDS_TOLERANCE_MS) this.backwards = { count: this.backwards.count + 1, largestMs: Math.max(this.backwards.largestMs, behind) };
      // Time never runs backwards for the matcher: the knock counts as happening now.
      event.at = this.now;
    }
    report.firstKnockAt ??= event.at;
    report.lastKnockAt = event.at;
    this.advanceTo(event.at);
    this.feeding = true;
    try {
      this.matcher.feed(event);
    } finally {
      this.feeding = false;
    }
  }

  /** Lets virtual time run on until every attempt has expired and every door closed; then reports. */
  finish(): SimulationReport {
    if (!this.finished) {
      this.finished = true;
      this.afterInput = true;
      this.drain();
      const report = this.report;
      report.clock = this.clock ?? 'wall';
      report.warnings.push(
        ...warnings(this.config.doors, report, { clock: report.clock, imprecise: this.imprecise, unverified: this.unverified, backwards: this.backwards, options: this.options }),
      );
    }
    return this.report;
  }

  private record(event: SimulatedEvent): void {
    if (this.feeding) event.line = this.report.lines;
    if (this.afterInput) event.afterInput = true;
    this.report.events.push(event);
    if (event.kind === 'open') this.report.opens.push(event);
  }

  private skip(reason: string, text: string): void {
    const report = this.report;
    report.skipped[reason] = (report.skipped[reason] ?? 0) + 1;
    if (this.options.keepSkippedLines && report.skippedLines.length < MAX_KEPT_SKIPPED_LINES) {
      report.skippedLines.push({ line: report.lines, reason, text: text.slice(0, SKIPPED_TEXT_CHARS) });
    }
  }

  /** Runs ticks and closes due up to `until`, in time order, as the daemon's timers would. */
  private advanceTo(until: number): void {
    let now = this.now ?? until;
    for (;;) {
      const closeAt = this.keeper.nextDeadline();
      const tickAt = this.matcher.attemptCount > 0 ? (Math.floor(now / TICK_MS) + 1) * TICK_MS : undefined;
      const next = Math.min(closeAt ?? Infinity, tickAt ?? Infinity);
      if (next > until) break;
      now = next;
      for (const pending of this.keeper.takeDue(next)) {
        // Simulated stop commands always succeed.
        this.keeper.finishClose(pending.id);
        this.record({ kind: 'close', at: pending.closesAt, source: pending.source, family: pending.family, door: pending.door, stopCommand: describeClose(pending), openedAt: pending.openedAt });
      }
      if (tickAt === next) this.matcher.tick(next);
    }
    this.now = Math.max(now, until);
  }

  private drain(): void {
    for (;;) {
      const now = this.now;
      if (now === undefined) return;
      const closeAt = this.keeper.nextDeadline();
      if (this.matcher.attemptCount > 0) this.advanceTo((Math.floor(now / TICK_MS) + 1) * TICK_MS);
      else if (closeAt !== undefined) this.advanceTo(closeAt);
      else return;
    }
  }
}

function toEvent(action: MatcherAction, door: Door, keeper: DoorKeeper): SimulatedEvent {
  const base = { at: action.at, source: action.source, family: action.family, door: door.name };
  switch (action.kind) {
    case 'stage':
      return { ...base, kind: 'stage', stage: action.stage };
    case 'broken':
      return { ...base, kind: 'broken', stage: action.stage, port: action.port, protocol: action.protocol };
    case 'expire':
      return { ...base, kind: 'timeout', stage: action.stage };
    case 'evict':
      return { ...base, kind: 'evicted', stage: action.stage };
    case 'replay':
      return { ...base, kind: 'replay', sequence: action.sequence.id };
    case 'open':
      return { ...base, ...open(action.door, action.source, action.family, action.at, action.sequence.id, keeper) };
  }
}

/** The daemon's own open decision (src/doors/open-decision.ts), committed to the keeper; nothing runs. */
function open(door: Door, source: string, family: Family, at: number, sequence: string, keeper: DoorKeeper): Omit<SimulatedOpen, keyof Located> {
  const decision = decideOpen(keeper, door, source, family, at);
  if (decision.effect === 'extend') {
    keeper.commit(decision.pending);
    return { kind: 'open', sequence, effect: 'extend', stopCommand: describeClose(decision.pending), closesAt: decision.pending.closesAt, previousClosesAt: decision.previous.closesAt };
  }
  const result: Omit<SimulatedOpen, keyof Located> = { kind: 'open', sequence, effect: 'start' };
  const opening = describeOpen(decision);
  if (opening !== undefined) result.startCommand = opening;
  if (decision.pending) {
    keeper.commit(decision.pending);
    result.stopCommand = describeClose(decision.pending);
    result.closesAt = decision.pending.closesAt;
  }
  return result;
}

interface WarningFacts {
  clock: ClockKind;
  imprecise: number;
  unverified: number;
  backwards: { count: number; largestMs: number };
  options: SimulateOptions;
}

function warnings(doors: readonly Door[], report: SimulationReport, facts: WarningFacts): string[] {
  const result: string[] = [];
  const { options } = facts;
  if (facts.unverified > 0 && !options.dedicatedKernelLog) {
    const general = (report.skipped['not-kernel'] ?? 0) > 0 ? ' This looks like a general log (it holds lines from other programs).' : '';
    result.push(
      `${facts.unverified} knock line(s) came from a syslog file or plain dmesg output, which do not prove that the kernel wrote them: ` +
        `any local user can add such a line with \`logger -t kernel\`.${general} The dedicated file of rules/rsyslog-nfknock.conf, ` +
        '/dev/kmsg dumps and `dmesg -r` output are trustworthy.',
    );
  }
  if (facts.imprecise > 0) {
    result.push(
      `${facts.imprecise} knock line(s) had whole-second stamps: knocks within a second are taken in line order, and timeouts may be off by up to a second ` +
        '(the daemon itself stamps such lines when it reads them).',
    );
  }
  if (facts.clock === 'boot' && report.knocks > 0) {
    result.push('times are seconds since boot (kmsg/dmesg stamps); give --boot-time to see wall-clock times.');
    const timed = doors.filter((door) => door.timeSequence).map((door) => door.name);
    if (timed.length > 0) result.push(`time-based door(s) ${timed.join(', ')} cannot open on since-boot times: give --boot-time.`);
  }
  if (!options.deriver) {
    const timed = doors.filter((door) => door.timeSequence).map((door) => door.name);
    if (timed.length > 0) result.push(`time-based door(s) ${timed.join(', ')} were not checked (no sequence deriver).`);
  }
  if (facts.backwards.count > 0) {
    result.push(
      `${facts.backwards.count} knock line(s) were stamped up to ${(facts.backwards.largestMs / 1000).toFixed(3)} s before an earlier line and were taken as happening at that earlier time ` +
        '(a dump across a reboot, or files joined out of order?).',
    );
  }
  const mixed = (report.skipped['boot-clock-among-wall-clock-lines'] ?? 0) + (report.skipped['wall-clock-among-boot-clock-lines'] ?? 0);
  if (mixed > 0) result.push(`${mixed} line(s) were on another clock than the first knock line and were skipped; give --boot-time to mix kmsg/dmesg with syslog lines.`);
  for (const door of doors) {
    if (door.oneTimeFile !== undefined && (options.oneTimeLines?.get(door.name)?.length ?? 0) === 0) {
      result.push(`one-time door ${door.name} had no unused sequence, so it could not open.`);
    }
  }
  return result;
}

/** The kernel's own text of a syslog line (what the daemon's guard compares), without the logger's stamp. */
function kernelMessageOf(line: string): string {
  const tag = line.indexOf(' kernel: ');
  return tag < 0 ? line : line.slice(tag + ' kernel: '.length);
}
