/**
 * `nfknock check --live`, pure: the marks the config needs (src/rules/ computes them, as for
 * `nfknock rules`) against the marks the kernel has loaded (live-parse.ts). Every difference is named
 * with its family, ports and doors, with the command that fixes it. knockd's oldest bug was a config
 * that changed while the capture did not; here the firewall is the capture.
 */
import type { Config, Door, Family, KnockStep, Protocol, TcpFlagRule } from '../core/types.js';
import { iptablesHookCommand, markGroups, type KnockHook } from '../rules/generate.js';
import type { LiveMark } from './live-parse.js';
import { ipsetName, missingSetHint, NFT_FAMILY, NFT_TABLE_NAME, nftSetName } from '../firewall/operations.js';

export interface LiveExpectation {
  target: 'nflog' | 'log';
  group: number;
  prefix: string;
  hook: KnockHook;
  families: readonly Family[];
  oneTimeSteps?: ReadonlyMap<string, readonly KnockStep[]>;
}

export type DriftKind = 'unmarked' | 'wrong-log' | 'wrong-flags' | 'unreachable' | 'wrong-destination' | 'stale' | 'twice' | 'missing-set';

export interface Drift {
  /** Undefined for what both families share (an nft inet set, an ipset). */
  family?: Family;
  kind: DriftKind;
  message: string;
  /** The shell command that repairs it. */
  fix: string;
}

interface Interval {
  from: number;
  to: number;
}

const samePrefix = (a: string, b: string) => a.trim() === b.trim();
const portText = (from: number, to: number, protocol: Protocol) => `${from === to ? from : `${from}-${to}`}/${protocol}`;
/** The live test lets through every packet the doors accept: it tests no bit they do not test the same way. */
const flagsCover = (live: TcpFlagRule, needed: TcpFlagRule) => (live.required & ~needed.required) === 0 && (live.forbidden & ~needed.forbidden) === 0;

/** The sets the kernel has: nft as "family table name", ipset by name; undefined where the tool is missing. */
export interface LiveSets {
  nft?: ReadonlySet<string>;
  ipset?: ReadonlySet<string>;
}

export function compareLive(config: Config, expectation: LiveExpectation, live: readonly LiveMark[], sets: LiveSets = {}): Drift[] {
  const drifts = compareMarks(config, expectation, live);
  drifts.push(...missingDoorSets(config, sets));
  return drifts;
}

const NFT_FAMILIES = new Set(['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev']);

/** The nft sets and ipsets door commands (and `Open =`) add knockers to: a door whose set is missing cannot open. */
export function doorSets(config: Config): { door: string; kind: 'nft' | 'ipset'; name: string; fix?: string }[] {
  const found = new Map<string, { door: string; kind: 'nft' | 'ipset'; name: string; fix?: string }>();
  for (const door of config.doors) {
    for (const family of door.open === undefined ? [] : ([4, 6] as const)) {
      const { firewall, table } = door.open as NonNullable<Door['open']>;
      const name = firewall === 'nft' ? `${NFT_FAMILY} ${table ?? NFT_TABLE_NAME} ${nftSetName(family)}` : ipsetName(family);
      if (!found.has(`${firewall} ${name}`)) found.set(`${firewall} ${name}`, { door: door.name, kind: firewall, name, fix: missingSetHint(firewall, table) });
    }
    for (const command of [door.startCommand, door.startCommand6, door.stopCommand, door.stopCommand6]) {
      for (const match of (command ?? '').matchAll(/\bnft\s+(?:add|delete|destroy)\s+element\s+(\S+)\s+(\S+)(?:\s+([^\s{]+))?/g)) {
        const [family, table, set] = NFT_FAMILIES.has(match[1] as string) ? [match[1], match[2], match[3]] : ['ip', match[1], match[2]];
        if (set === undefined) continue;
        const name = `${family as string} ${table as string} ${set}`;
        if (!found.has(`nft ${name}`)) found.set(`nft ${name}`, { door: door.name, kind: 'nft', name });
      }
      for (const match of (command ?? '').matchAll(/\bipset\s+(?:add|del|-A|-D)\s+(?:-exist\s+)?([^\s%-][^\s%]*)/g)) {
        const name = match[1] as string;
        if (!found.has(`ipset ${name}`)) found.set(`ipset ${name}`, { door: door.name, kind: 'ipset', name });
      }
    }
  }
  return [...found.values()];
}

function missingDoorSets(config: Config, sets: LiveSets): Drift[] {
  const drifts: Drift[] = [];
  for (const { door, kind, name, fix } of doorSets(config)) {
    const have = kind === 'nft' ? sets.nft : sets.ipset;
    if (have === undefined || have.has(name)) continue;
    drifts.push({
      kind: 'missing-set',
      message: `door [${door}] adds knockers to ${kind === 'nft' ? 'nft set' : 'ipset'} ${name}, which the loaded ruleset lacks: the door cannot open`,
      fix: fix ?? (kind === 'nft' ? `load the ruleset that defines it (nfknock rules -c ${config.file} --complete --format nft defines inet nfknock open4/open6)` : `ipset create ${name} hash:ip -exist (with the type and timeout your rules expect)`),
    });
  }
  return drifts;
}

function compareMarks(config: Config, expectation: LiveExpectation, live: readonly LiveMark[]): Drift[] {
  const groups = markGroups(config, { hook: expectation.hook, oneTimeSteps: expectation.oneTimeSteps });
  const drifts: Drift[] = [];
  for (const family of expectation.families) {
    const ours = live.filter((mark) => mark.family === family && samePrefix(mark.log.prefix, expectation.prefix));
    const useNft = ours.some((mark) => mark.where.startsWith('nft '));
    const reload = reloadCommand(config.file, expectation, family, useNft);
    const reaches = (mark: LiveMark) => mark.hooks.has(expectation.hook) || (expectation.hook !== 'prerouting' && mark.hooks.has('prerouting'));
    const logRight = (mark: LiveMark) => mark.log.target === expectation.target && (expectation.target === 'log' || mark.log.group === expectation.group);
    const oursByProtocol = byProtocol(ours);
    const needed: Needed[] = [];
    for (const group of groups) {
      if (group.family !== undefined && group.family !== family) continue;
      for (const mark of group.marks) {
        needed.push({ protocol: mark.protocol, from: mark.from, to: mark.to, destination: group.destination });
        const destinationRight = (l: LiveMark) => l.destination === undefined || l.destination === group.destination;
        const candidates = oursByProtocol.get(mark.protocol)?.overlapping(mark) ?? [];
        const good = candidates.filter((l) => reaches(l) && logRight(l) && destinationRight(l) && flagsCover(l.tcpFlags, mark.tcpFlags));
        for (const piece of subtract(mark, good)) {
          const ports = `knock port${piece.from === piece.to ? '' : 's'} ${portText(piece.from, piece.to, mark.protocol)}${group.destination ? ` to ${group.destination}` : ''} (${mark.doors.join(', ')})`;
          const near = candidates.find((l) => overlaps(l, piece));
          const [kind, why] = near === undefined ? (['unmarked', 'not marked'] as const) : explain(near, mark.tcpFlags, group.destination, expectation, reaches, logRight);
          drifts.push({ family, kind, message: `IPv${family}: ${ports}: ${why}`, fix: reload });
        }
      }
    }
    drifts.push(...staleAndTwice(family, ours, needed, reaches));
  }
  return drifts;
}

function explain(
  mark: LiveMark,
  flags: TcpFlagRule,
  destination: string | undefined,
  expectation: LiveExpectation,
  reaches: (mark: LiveMark) => boolean,
  logRight: (mark: LiveMark) => boolean,
): [DriftKind, string] {
  if (!logRight(mark)) {
    const has = mark.log.target === 'nflog' ? `NFLOG group ${mark.log.group}` : 'LOG (kernel log)';
    const wants = expectation.target === 'nflog' ? `NFLOG group ${expectation.group}` : 'LOG (the kernel log, for Source = kmsg/file)';
    return ['wrong-log', `logged with ${has} in ${mark.where}; the daemon reads ${wants}`];
  }
  if (!reaches(mark)) return ['unreachable', `marked in ${mark.where}, which no ${expectation.hook} packet reaches (no jump to it)`];
  if (mark.destination !== undefined && mark.destination !== destination) return ['wrong-destination', `marked only for destination ${mark.destination} in ${mark.where}`];
  return ['wrong-flags', `the rule in ${mark.where} tests TCP flags the doors do not (knocks they accept would not be logged)`];
}

/** Marks no door needs any more (deleted doors, changed sequences), and ports logged twice. */
interface Needed extends Interval {
  protocol: Protocol;
  /** The door's Target on the forward path; undefined on the input hook. */
  destination: string | undefined;
}

function staleAndTwice(family: Family, ours: LiveMark[], needed: Needed[], reaches: (mark: LiveMark) => boolean): Drift[] {
  const drifts: Drift[] = [];
  const neededByProtocol = byProtocol(needed);
  for (const mark of ours) {
    // A mark for one host is needed only by that host's doors; one without -d by any door.
    const wanted = (neededByProtocol.get(mark.protocol)?.overlapping(mark) ?? []).filter(
      (n) => mark.destination === undefined || n.destination === undefined || n.destination === mark.destination,
    );
    for (const piece of subtract(mark, wanted)) {
      drifts.push({ family, kind: 'stale', message: `IPv${family}: ${mark.where} marks ${portText(piece.from, piece.to, mark.protocol)}, which no door knocks on`, fix: mark.deleteCommand });
    }
  }
  const live = ours.filter(reaches).sort((a, b) => a.protocol.localeCompare(b.protocol) || a.from - b.from);
  for (let i = 0; i < live.length; i++) {
    const a = live[i] as LiveMark;
    for (let j = i + 1; j < live.length && (live[j] as LiveMark).protocol === a.protocol && (live[j] as LiveMark).from <= a.to; j++) {
      const b = live[j] as LiveMark;
      if (a.destination !== undefined && b.destination !== undefined && a.destination !== b.destination) continue;
      const from = Math.max(a.from, b.from);
      drifts.push({
        family,
        kind: 'twice',
        message: `IPv${family}: ${portText(from, Math.min(a.to, b.to), a.protocol)} is marked twice (${a.where}; ${b.where}): the daemon would count each knock twice`,
        fix: b.deleteCommand,
      });
    }
  }
  return drifts;
}

function reloadCommand(configPath: string, expectation: LiveExpectation, family: Family, useNft: boolean): string {
  const flags = [`-c ${configPath}`];
  if (expectation.target === 'log') flags.push('--target log');
  if (expectation.hook !== 'input') flags.push(`--hook ${expectation.hook}`);
  if (useNft) return `nfknock rules ${flags.join(' ')} --format nft | nft -f -`;
  const tool = family === 4 ? 'iptables' : 'ip6tables';
  return `nfknock rules ${flags.join(' ')} --family ${family} | ${tool}-restore --noflush && { ${iptablesHookCommand(family, expectation.hook)}; }`;
}

/**
 * Intervals sorted by start, with the running maximum of their ends: the ones overlapping a query are
 * found by a binary search and a walk back that stops where no earlier interval reaches the query,
 * so comparing thousands of marks stays near-linear (hundreds of doors, time-based ranges).
 */
class IntervalIndex<T extends Interval> {
  private readonly sorted: T[];
  private readonly maxTo: number[] = [];

  constructor(items: readonly T[]) {
    this.sorted = [...items].sort((a, b) => a.from - b.from);
    let max = -Infinity;
    for (const item of this.sorted) this.maxTo.push((max = Math.max(max, item.to)));
  }

  overlapping(query: Interval): T[] {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.sorted[mid] as T).from <= query.to) lo = mid + 1;
      else hi = mid;
    }
    const found: T[] = [];
    for (let i = lo - 1; i >= 0 && (this.maxTo[i] as number) >= query.from; i--) {
      const item = this.sorted[i] as T;
      if (item.to >= query.from) found.push(item);
    }
    return found.reverse();
  }
}

function byProtocol<T extends Interval & { protocol: Protocol }>(items: readonly T[]): Map<Protocol, IntervalIndex<T>> {
  return new Map((['tcp', 'udp'] as const).map((protocol) => [protocol, new IntervalIndex(items.filter((item) => item.protocol === protocol))]));
}

function overlaps(a: Interval, b: Interval): boolean {
  return a.from <= b.to && b.from <= a.to;
}

/** The parts of `whole` no interval in `cover` covers, in order. */
function subtract(whole: Interval, cover: readonly Interval[]): Interval[] {
  const pieces: Interval[] = [];
  let next = whole.from;
  for (const c of [...cover].sort((a, b) => a.from - b.from)) {
    if (c.to < next || c.from > whole.to) continue;
    if (c.from > next) pieces.push({ from: next, to: c.from - 1 });
    next = Math.max(next, c.to + 1);
    if (next > whole.to) return pieces;
  }
  if (next <= whole.to) pieces.push({ from: next, to: whole.to });
  return pieces;
}

/** For people: each difference, then each distinct fix once. */
export function formatDrift(drifts: readonly Drift[]): string {
  if (drifts.length === 0) return 'the loaded firewall marks every knock port the configuration needs, and nothing else\n';
  const fixes = [...new Set(drifts.map((d) => d.fix))];
  return `${[...drifts.map((d) => `${d.message} (${d.kind})`), '', 'to fix:', ...fixes.map((f) => `  ${f}`)].join('\n')}\n`;
}
