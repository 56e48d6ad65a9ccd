import type { Config, Door, Family, KnockStep, Protocol } from '../core/types.js';
import { substituteCommand } from '../config/substitute.js';
import { resolveStartCommand, resolveStopCommand } from '../config/commands.js';
import { canonicalAddress } from '../core/address.js';
import { NfknockError } from '../core/errors.js';
import { checkDoorPairs, CloserIndex } from './door-pairs.js';
import { missingBackstop } from './backstop.js';
import { portText } from '../firewall/open-ports.js';

export interface ListeningFacts {
  /** Sockets reachable from other hosts (loopback-only listeners are left out by readListening). */
  listening: { protocol: Protocol; port: number }[];
}

export type WarningCode =
  | 'knock-port-is-service'
  | 'short-sequence'
  | 'repeated-port'
  | 'ascending-sequence'
  | 'sequence-prefix'
  | 'shared-first-knock'
  | 'no-close-path'
  | 'closed-by-other-door'
  | 'command-without-address'
  | 'appends-after-reject'
  | 'ipv6-runs-iptables'
  | 'no-start-command'
  | 'seq-timeout-long'
  | 'cmd-timeout-short'
  | 'any-tcp-flags'
  | 'no-kernel-backstop';

export interface CheckWarning {
  code: WarningCode;
  severity: 'warning' | 'note';
  door: string;
  /** The file the door is written in: the main config or its drop-in. */
  file: string;
  line: number;
  message: string;
}

export interface CommandExample {
  key: 'start_command' | 'stop_command' | 'start_command_6' | 'stop_command_6';
  /** The command with %IP% replaced by the example address of its family. */
  example: string;
}

export interface DoorSummary {
  name: string;
  line: number;
  /** "7000/tcp 8000/udp", "time-based: ...", "one-time: ..." */
  sequence: string;
  seqTimeoutMs: number;
  cmdTimeoutMs: number;
  /** "syn,!ack" or "any" (TCP only). */
  tcpFlags: string;
  commands: CommandExample[];
  /** `Open =` doors: what nfknockd opens in the kernel, e.g. "22/tcp in nft inet nfknock open4/open6". */
  open?: string;
}

export interface CheckReport {
  file: string;
  exampleAddress: string;
  exampleAddress6: string;
  doors: DoorSummary[];
  warnings: CheckWarning[];
}

const EXAMPLE_V6 = '2001:db8::7';
const LONG_SEQ_TIMEOUT_MS = 60_000;
const SHORT_CMD_TIMEOUT_MS = 3_000;

/** What an experienced admin would want to know about a knockd.conf before trusting it. Pure. */
export function checkConfig(config: Config, facts: ListeningFacts, exampleAddress = '203.0.113.7'): CheckReport {
  const example = canonicalAddress(exampleAddress);
  if (!example) throw new NfknockError('NFK_USAGE', `example address ${JSON.stringify(exampleAddress)} is not an IPv4 or IPv6 address`);
  const example4 = example.family === 4 ? example.address : '203.0.113.7';
  const example6 = example.family === 6 ? example.address : EXAMPLE_V6;
  const warnings: CheckWarning[] = [];
  const warn = (door: Door, code: WarningCode, message: string, severity: 'warning' | 'note' = 'warning', key?: string) =>
    warnings.push({ code, severity, door: door.name, file: door.file ?? config.file, line: (key && door.keyLines[key]) || door.line, message });

  const closers = new CloserIndex(config.doors, deletionOf, opens);
  const services = new Set(facts.listening.map(serviceKey));
  for (const door of config.doors) {
    checkPorts(door, facts, services, warn);
    checkSequence(door, warn);
    checkCommands(door, closers, warn);
    checkTimeouts(door, warn);
    const backstop = missingBackstop(door);
    if (backstop) {
      warn(door, 'no-kernel-backstop', `opening it leaves nothing in the kernel that expires by itself: it stays open if nfknockd stops before its stop command; "${backstop.openLine}" (with cmd_timeout) would replace its commands, and the kernel would close it after cmd_timeout`, 'warning', 'start_command');
    }
  }
  checkDoorPairs(config.doors, warn);
  // The main file first, then drop-ins in the order they were read.
  const ranks = new Map<string, number>([[config.file, -1]]);
  for (const door of config.doors) if (door.file !== undefined && !ranks.has(door.file)) ranks.set(door.file, ranks.size);
  const fileRank = (file: string) => ranks.get(file) ?? 0;
  warnings.sort((a, b) => fileRank(a.file) - fileRank(b.file) || a.line - b.line || codeRank(a.code) - codeRank(b.code));
  return {
    file: config.file,
    exampleAddress: example4,
    exampleAddress6: example6,
    doors: config.doors.map((door) => summarize(door, example4, example6)),
    warnings,
  };
}

type Warn = (door: Door, code: WarningCode, message: string, severity?: 'warning' | 'note', key?: string) => void;

const codeRanks = new Map<string, number>();

/** Warnings on one line are ordered by code as `localeCompare` orders them, ranked once per code rather than compared per pair. */
function codeRank(code: WarningCode): number {
  let rank = codeRanks.get(code);
  if (rank === undefined) {
    const codes = [...codeRanks.keys(), code].sort((a, b) => a.localeCompare(b));
    codeRanks.clear();
    codes.forEach((known, i) => codeRanks.set(known, i));
    rank = codeRanks.get(code) as number;
  }
  return rank;
}

const stepText = (step: KnockStep) => `${step.port}/${step.protocol}`;

/** A port and protocol as one number, for the set of listening sockets made once for all doors. */
const serviceKey = (socket: { port: number; protocol: Protocol }) => socket.port * 2 + (socket.protocol === 'udp' ? 1 : 0);

function checkPorts(door: Door, facts: ListeningFacts, services: ReadonlySet<number>, warn: Warn): void {
  // Each knocked port once, in sequence order.
  const warned: number[] = [];
  for (const step of door.steps) {
    const key = serviceKey(step);
    if (!services.has(key) || warned.includes(key)) continue;
    warned.push(key);
    warn(door, 'knock-port-is-service', `knock port ${stepText(step)} is also a listening service: every client of that service knocks without knowing`, 'warning', 'sequence');
  }
  const spec = door.timeSequence;
  if (spec) {
    const inRange = facts.listening.filter(
      (l) => l.port >= spec.portMin && l.port <= spec.portMax && (spec.protocols === 'mixed' || spec.protocols === l.protocol),
    );
    if (inRange.length > 0) {
      const list = [...new Set(inRange.map((l) => `${l.port}/${l.protocol}`))].join(', ');
      warn(door, 'knock-port-is-service', `the time-based port range ${spec.portMin}-${spec.portMax} includes listening services (${list})`);
    }
  }
}

function checkSequence(door: Door, warn: Warn): void {
  const length = door.timeSequence?.length ?? door.steps.length;
  if (door.oneTimeFile === undefined && length > 0 && length < 3) {
    warn(door, 'short-sequence', `the sequence has ${length} knock${length === 1 ? '' : 's'}: a port scan finds ${length === 1 ? 'it' : 'them'} quickly; use 3 or more`, 'warning', 'sequence');
  }
  const s = door.steps;
  for (let i = 1; i < s.length; i++) {
    const a = s[i - 1] as KnockStep;
    const b = s[i] as KnockStep;
    if (a.port === b.port && a.protocol === b.protocol) {
      warn(door, 'repeated-port', `knock ${i + 1} repeats ${stepText(b)}: one retransmitted packet counts as two knocks`, 'warning', 'sequence');
    }
  }
  if (s.length >= 2 && s.every((step, i) => i === 0 || (step.port > (s[i - 1] as KnockStep).port && step.protocol === s[0]?.protocol))) {
    warn(door, 'ascending-sequence', 'the ports rise in order: a sequential port scan (nmap -r, masscan) can knock the whole sequence', 'warning', 'sequence');
  }
  const usesTcp = s.some((step) => step.protocol === 'tcp') || (door.timeSequence !== undefined && door.timeSequence.protocols !== 'udp');
  if (usesTcp && (door.tcpFlags.required | door.tcpFlags.forbidden) === 0) {
    warn(door, 'any-tcp-flags', 'no tcpflags: any TCP packet counts as a knock (a stray RST or ACK too); tcpflags = syn is the usual choice', 'note');
  }
}

/** Rules that ACCEPT (or insert/append) rather than delete: such a command needs something to close it. */
function opens(command: string): boolean {
  return !/(^|\s)(-D|--delete)\s/.test(command) && !/\bnft\s+(delete|destroy)\b/.test(command) && !/\bipset\s+(del|-D)\b/.test(command);
}

/** Closes itself: schedules its own removal, or adds an element that expires. */
function closesItself(command: string): boolean {
  return /\bsleep\b.*(-D|--delete|delete)\b/.test(command) || /(^|[;&|]\s*)at\s/.test(command) || /\btimeout\s+\d/.test(command) || /\bsystemd-run\b.*--on-active/.test(command);
}

/** The command that undoes `command` by rule deletion, to find a separate close door. */
function deletionOf(command: string): string {
  return command.replace(/\s(-A|--append)\s+(\S+)/, ' -D $2').replace(/\s(-I|--insert)\s+(\S+)(\s+\d+)?/, ' -D $2').replace(/\badd element\b/, 'delete element').replace(/\s+/g, ' ').trim();
}

function checkCommands(door: Door, closers: CloserIndex, warn: Warn): void {
  const start = resolveStartCommand(door, 4);
  if (start === undefined && resolveStartCommand(door, 6) === undefined) {
    if (door.open !== undefined) return;
    warn(door, 'no-start-command', 'no start_command: knocking this door does nothing', 'warning');
    return;
  }
  for (const [key, command] of [['start_command', door.startCommand], ['start_command_6', door.startCommand6]] as const) {
    if (command === undefined || command === '' || !opens(command)) continue;
    if (!command.includes('%IP%')) {
      warn(door, 'command-without-address', `${key} does not use %IP%: it opens for everybody, not just the knocker`, 'warning', key);
    }
    if (/(^|\s)(-A|--append)\s+INPUT\b/.test(command)) {
      warn(door, 'appends-after-reject', `${key} appends (-A INPUT): if your INPUT chain ends in a REJECT or DROP rule, the ACCEPT comes after it and never matches; use -I INPUT, or a table that ends in a DROP policy (nfknock rules --complete)`, 'note', key);
    }
  }
  if (door.startCommand6 === undefined && start !== undefined && /\biptables\b/.test(start) && !/\bip6tables\b/.test(start)) {
    warn(door, 'ipv6-runs-iptables', 'no start_command_6: IPv6 knockers get start_command, whose iptables cannot take an IPv6 address; add start_command_6 with ip6tables', 'note', 'start_command');
  }
  if (start === undefined || !opens(start)) return;
  const stop = resolveStopCommand(door, 4);
  if (stop !== undefined || closesItself(start)) return;
  const closer = closers.closerOf(door, start);
  if (closer) {
    warn(door, 'closed-by-other-door', `stays open until someone knocks door [${closer.name}]; a stop_command with cmd_timeout closes it by itself`, 'note', 'start_command');
  } else {
    warn(door, 'no-close-path', 'nothing closes this door: no stop_command, and start_command does not remove what it adds', 'warning', 'start_command');
  }
}

function checkTimeouts(door: Door, warn: Warn): void {
  const closes = resolveStopCommand(door, 4) !== undefined || door.open !== undefined;
  if (door.seqTimeoutMs > LONG_SEQ_TIMEOUT_MS) {
    warn(door, 'seq-timeout-long', `seq_timeout is ${seconds(door.seqTimeoutMs)}: a long window lets slow scans and guessing complete the sequence`, 'note', 'seq_timeout');
  }
  if (closes && door.cmdTimeoutMs < SHORT_CMD_TIMEOUT_MS) {
    warn(door, 'cmd-timeout-short', `cmd_timeout is ${seconds(door.cmdTimeoutMs)}: the door closes before most clients have connected`, 'warning', 'cmd_timeout');
  } else if (closes && door.cmdTimeoutMs < door.seqTimeoutMs) {
    warn(door, 'cmd-timeout-short', `cmd_timeout (${seconds(door.cmdTimeoutMs)}) is shorter than seq_timeout (${seconds(door.seqTimeoutMs)}): knocking takes longer than the door stays open; check that this is intended`, 'note', 'cmd_timeout');
  }
}

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

function flagText(door: Door): string {
  const names = ['fin', 'syn', 'rst', 'psh', 'ack', 'urg'];
  const parts: string[] = [];
  names.forEach((name, bit) => {
    if (door.tcpFlags.required & (1 << bit)) parts.push(name);
    if (door.tcpFlags.forbidden & (1 << bit)) parts.push(`!${name}`);
  });
  return parts.length === 0 ? 'any' : parts.join(',');
}

function openText(open: NonNullable<Door['open']>): string {
  const sets = open.firewall === 'nft' ? `nft inet ${open.table ?? 'nfknock'} open4/open6` : 'ipset nfknock-open4/nfknock-open6';
  return `${open.ports.map((port) => `${portText(port)}/${port.protocol}`).join(' ')} for the knocker, in ${sets}, for cmd_timeout (the kernel removes it even if nfknockd does not)`;
}

function sequenceText(door: Door): string {
  if (door.timeSequence) {
    const t = door.timeSequence;
    return `time-based: ${t.length} knocks in ${t.portMin}-${t.portMax}/${t.protocols}, new every ${t.periodSeconds} s`;
  }
  if (door.oneTimeFile !== undefined) return `one-time: from ${door.oneTimeFile}`;
  return door.steps.map(stepText).join(' ');
}

function summarize(door: Door, example4: string, example6: string): DoorSummary {
  const commands: CommandExample[] = [];
  const add = (key: CommandExample['key'], command: string | undefined, family: Family) => {
    if (command === undefined || command === '') return;
    commands.push({ key, example: substituteCommand(command, family === 4 ? example4 : example6, door.cmdTimeoutMs) });
  };
  add('start_command', door.startCommand, 4);
  add('stop_command', door.stopCommand, 4);
  add('start_command_6', door.startCommand6, 6);
  add('stop_command_6', door.stopCommand6, 6);
  return {
    name: door.name,
    line: door.line,
    sequence: sequenceText(door),
    seqTimeoutMs: door.seqTimeoutMs,
    cmdTimeoutMs: door.cmdTimeoutMs,
    tcpFlags: flagText(door),
    commands,
    ...(door.open === undefined ? {} : { open: openText(door.open) }),
  };
}

/** The report as an admin reads it; warnings in the `file:line:` shape editors jump to. */
export function formatCheckReport(report: CheckReport): string {
  const out: string[] = [];
  const count = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const warningCount = report.warnings.filter((w) => w.severity === 'warning').length;
  const noteCount = report.warnings.length - warningCount;
  out.push(`${report.file}: ${count(report.doors.length, 'door')}, ${count(warningCount, 'warning')}, ${count(noteCount, 'note')}`);
  for (const door of report.doors) {
    out.push('', `[${door.name}]  (line ${door.line})`);
    out.push(`  sequence     ${door.sequence}`);
    out.push(`  tcpflags     ${door.tcpFlags}`);
    out.push(`  seq_timeout  ${seconds(door.seqTimeoutMs)}    cmd_timeout  ${seconds(door.cmdTimeoutMs)}`);
    if (door.open !== undefined) out.push(`  open         ${door.open}`);
    for (const command of door.commands) out.push(`  ${command.key.padEnd(15)} ${command.example}`);
  }
  if (report.warnings.length > 0) out.push('');
  for (const w of report.warnings) out.push(`${w.file}:${w.line}: ${w.severity}: [${w.door}] ${w.message} (${w.code})`);
  if (report.doors.some((d) => d.commands.length > 0)) {
    out.push('', `Commands are shown for a knock from ${report.exampleAddress} (IPv6: ${report.exampleAddress6}).`);
  }
  out.push(''); // the final newline, without copying the whole report once more
  return out.join('\n');
}
