/**
 * knockd.conf -> Config, pure. Modelled on knockd's parseconfig() (jvinet/knock, src/knockd.c):
 * whole-line `#` comments, `[name]` sections (only `[options]`, exactly so spelt, holds options;
 * any other name is a door), `key = value` split at the first `=`, keys compared without regard
 * to ASCII case, values trimmed of C whitespace and otherwise kept byte for byte. There are no
 * inline comments: `command = iptables ... ; logger "#1"` runs all of it, as in knockd.
 *
 * Where nfknock differs from knockd, and why (each can only refuse a config knockd accepts,
 * never open a door knockd would keep shut, except the two marked "lenient"):
 * - Unknown keys, `key` lines without `=` (other than UseSyslog) and bad section headers are
 *   refused like in knockd; in addition every problem in the file is reported at once.
 * - A key given twice in one section is refused; knockd silently keeps the last. Two
 *   `Stop_Command` lines or a `Command` and a `Start_Command` almost always mean the user
 *   expected both to run, and silently dropping a stop command leaves a door open.
 * - A section name given twice is refused (knockd makes two doors of the same name, which
 *   makes its log and our state files ambiguous); so is a second `[options]`.
 * - Ports: knockd uses atoi(), so "notaport", "" (`7000,,8000` or a trailing comma), "7000abc"
 *   and "-1" become ports 0, 0, 7000 and 65535. Here a port is decimal digits, 1..65535; 0 is
 *   refused because no knock can be made to it. `7000:udp:x` is refused (knockd ignores `:x`).
 *   At most 32 steps, as knockd.
 * - Seq_Timeout / Timeout / Cmd_Timeout: knockd uses atoi(), so "abc", "-5", "5s" and "2.5"
 *   become 0, -5, 5 and 2. Here they must be whole seconds; Seq_Timeout >= 1 (0 would time
 *   every sequence out), Cmd_Timeout >= 0; both <= 2147483 s so that the delay fits a Node
 *   timer (a larger setTimeout fires at once).
 * - TCPFlags: contradictions (`syn,!syn`) are refused (knockd keeps the last). Lenient: spaces
 *   around flags (`syn, ack`) are accepted; knockd refuses " ACK" as an unknown flag.
 * - Lenient: `UseSyslog` is accepted in any section, as knockd does (it is global either way).
 *   `UseSyslog = yes` is refused (knockd refuses it too, as a syntax error).
 * - A door must have exactly one of Sequence, One_Time_Sequences, Sequence_Secret (knockd lets
 *   a later Sequence override a one-time file) and something to run: a non-empty start command
 *   for IPv4 or IPv6. knockd accepts a door with no command and only logs "OPEN SESAME".
 * - Target must be an IP address literal (knockd passes it to pcap, which would also resolve
 *   names); it is stored canonical, as knock events carry canonical destinations.
 * - Paths (LogFile, PidFile, One_Time_Sequences, StateDir, KernelLog, `@` secret files) must be
 *   absolute: knockd resolves relative ones against its working directory, which differs
 *   between a shell and systemd. An empty LogFile or Interface means "not set", as in knockd.
 * - Interface must look like a Linux interface name (1-15 of [A-Za-z0-9_.:@+-]): it is pasted
 *   into firewall rules. knockd silently truncates it to 31 bytes.
 * - Door names with control characters are refused (they are written to logs and state).
 * - A UTF-8 byte order mark at the start is ignored (knockd would call `[options]` after it a
 *   directive outside any section). NUL bytes are refused (a shell command cannot hold them).
 * - `Key` (TOTP, in some later knockd versions) is not supported; see Sequence_Secret.
 * - Like knockd, a config with no doors at all is accepted (nothing can open).
 * - In load.ts / one-time.ts: a config that is not UTF-8 is refused at the line (commands reach
 *   /bin/sh as UTF-8); an inline Sequence_Secret in a config group/other can read is refused;
 *   One_Time_Sequences lines that do not parse are refused (knockd skips them silently), and an
 *   exhausted file is accepted (knockd refuses to start; here the door simply cannot open).
 * nfknock's own keys: in [options] Source, NflogGroup, LogPrefix, StateDir, KernelLog,
 * MaxAttempts, Include (several lines allowed; drop-in files hold doors only, see include.ts), MetricsFile,
 * StatsFile, SyslogTag, SyslogFacility, Firewall (nft | ipset), NftTable (the inet table of the nft sets);
 * in doors Sequence_Secret/_Length/_Ports/_Period/_Protocols (time-based sequences; Sequence_Ports is
 * required, the others default to 4 steps, 30 s, tcp) and Open (ports nfknockd opens itself in its
 * kernel sets, with a timeout; needs Cmd_Timeout > 0).
 */
import { canonicalAddress } from '../core/address.js';
import { ErrorCodes } from '../core/errors.js';
import {
  defaultOptions,
  tcpFlagBits,
  type Config,
  type Door,
  type IncludeDirective,
  type KnockStep,
  type Options,
  type TcpFlagName,
  type TcpFlagRule,
  type TimeSequenceSpec,
} from '../core/types.js';
import { decodeBase32 } from './base32.js';
import { parseIncludePattern } from './include.js';
import { throwIfAny, type ConfigProblem } from './problems.js';
import { runtimeLimitProblems } from './runtime-limits.js';
import { checkAbsolutePath, checkFirewall, checkInterface, checkLogPrefix, checkMaxAttempts, checkNflogGroup, checkNftTable, checkSource, checkSyslogFacility, checkSyslogTag, wholeNumber, type Checked } from './option-values.js';
import { TIME_SEQUENCE_LIMITS } from '../timeseq/derive.js';
import { parsePort, parseSequence } from './sequence.js';
import { readSections, type ConfigSection, type SectionDialect, type SectionEntry } from './sections.js';
import { asciiLower, cTrim } from './text.js';
import { parseOpenPorts, withFirewall } from '../firewall/open-ports.js';

export const OPTIONS_SECTION = 'options';
export const DEFAULT_SEQ_TIMEOUT_SECONDS = 25;
export const DEFAULT_CMD_TIMEOUT_SECONDS = 10;
/** The longest delay a Node timer can hold, in whole seconds ((2^31 - 1) ms). */
export const MAX_TIMEOUT_SECONDS = 2147483;
export const DEFAULT_SEQUENCE_LENGTH = 4;
export const MIN_SEQUENCE_LENGTH = 2;
export const MAX_SEQUENCE_LENGTH = 16;
export const DEFAULT_SEQUENCE_PERIOD_SECONDS = 30;
export const MIN_SEQUENCE_PERIOD_SECONDS = 5;
export const MIN_SECRET_BYTES = 16;

/** Canonical (lower-case) door keys; Door.keyLines is indexed by these. */
export type DoorKey =
  | 'sequence'
  | 'one_time_sequences'
  | 'seq_timeout'
  | 'tcpflags'
  | 'target'
  | 'start_command'
  | 'start_command_6'
  | 'cmd_timeout'
  | 'stop_command'
  | 'stop_command_6'
  | 'sequence_secret'
  | 'sequence_length'
  | 'sequence_ports'
  | 'sequence_period'
  | 'sequence_protocols'
  | 'open';

type OptionKey =
  | 'logfile'
  | 'pidfile'
  | 'interface'
  | 'source'
  | 'nfloggroup'
  | 'logprefix'
  | 'statedir'
  | 'kernellog'
  | 'maxattempts'
  | 'metricsfile'
  | 'statsfile'
  | 'syslogtag'
  | 'syslogfacility'
  | 'firewall'
  | 'nfttable';

/** How each key is spelt in messages. */
const DOOR_KEY_NAMES: Record<DoorKey, string> = {
  sequence: 'Sequence',
  one_time_sequences: 'One_Time_Sequences',
  seq_timeout: 'Seq_Timeout',
  tcpflags: 'TCPFlags',
  target: 'Target',
  start_command: 'Start_Command',
  start_command_6: 'Start_Command_6',
  cmd_timeout: 'Cmd_Timeout',
  stop_command: 'Stop_Command',
  stop_command_6: 'Stop_Command_6',
  sequence_secret: 'Sequence_Secret',
  sequence_length: 'Sequence_Length',
  sequence_ports: 'Sequence_Ports',
  sequence_period: 'Sequence_Period',
  sequence_protocols: 'Sequence_Protocols',
  open: 'Open',
};
const OPTION_KEY_NAMES: Record<OptionKey, string> = {
  logfile: 'LogFile',
  pidfile: 'PidFile',
  interface: 'Interface',
  source: 'Source',
  nfloggroup: 'NflogGroup',
  logprefix: 'LogPrefix',
  statedir: 'StateDir',
  kernellog: 'KernelLog',
  maxattempts: 'MaxAttempts',
  metricsfile: 'MetricsFile',
  statsfile: 'StatsFile',
  syslogtag: 'SyslogTag',
  syslogfacility: 'SyslogFacility',
  firewall: 'Firewall',
  nfttable: 'NftTable',
};

/** A Map, not an object: a key named "constructor" or "__proto__" must be unknown, not inherited. */
const DOOR_KEYS = new Map<string, DoorKey>([
  ...(Object.keys(DOOR_KEY_NAMES) as DoorKey[]).map((k) => [k, k] as const),
  ['timeout', 'seq_timeout'],
  ['command', 'start_command'],
  ['command_6', 'start_command_6'],
]);
const OPTION_KEYS = new Map<string, OptionKey>((Object.keys(OPTION_KEY_NAMES) as OptionKey[]).map((k) => [k, k] as const));
const TIME_SEQUENCE_DETAIL_KEYS: DoorKey[] = ['sequence_length', 'sequence_ports', 'sequence_period', 'sequence_protocols'];
const SEQUENCE_SOURCE_KEYS: DoorKey[] = ['sequence', 'one_time_sequences', 'sequence_secret'];
/** Quoted back instead of a secret's text, which must never reach a log. */
const SECRET_NOT_SHOWN = 'Sequence_Secret = (not shown)';

type Entry = SectionEntry;
type Section = ConfigSection<string>;

type Report = (code: ConfigProblem['code'], message: string, line: number, text: string) => void;

/**
 * Parses knockd.conf text. `file` is only used in messages. Throws a ConfigError (an
 * NfknockError, code NFK_CONFIG_SYNTAX or NFK_CONFIG_INVALID) listing every problem found.
 * `Sequence_Secret = @/path` is left as `timeSequence.secretFile` for the loader to read.
 */
export function parseConfig(text: string, file: string, mode: { dropIn?: boolean } = {}): Config {
  const problems: ConfigProblem[] = [];
  const report: Report = (code, message, line, quoted) => problems.push({ code, message, file, line, text: quoted });
  const syntax = (message: string, line: number, quoted: string) => report(ErrorCodes.CONFIG_SYNTAX, message, line, quoted);
  const { sections: read, flags, repeated } = readSections(text, KNOCKD_DIALECT, syntax);
  let sections = read;
  const useSyslog = flags.get('usesyslog');
  if (mode.dropIn) {
    // A drop-in holds doors only: the options stay where one file decides them.
    if (useSyslog) syntax('UseSyslog belongs in the main configuration, not in a drop-in (Include) file', useSyslog.line, useSyslog.text);
    for (const section of sections.filter((s) => s.isOptions)) syntax('[options] belongs in the main configuration, not in a drop-in (Include) file', section.line, section.text);
    sections = sections.filter((s) => !s.isOptions);
  }
  const includes: IncludeDirective[] = [];
  // Several Include lines are allowed (unlike other keys): each adds files, none overrides.
  for (const entry of repeated) {
    const parsed = parseIncludePattern(entry.value);
    if (parsed.ok) includes.push({ pattern: entry.value, line: entry.line });
    else report(ErrorCodes.CONFIG_INVALID, parsed.message, entry.line, entry.value);
  }

  const optionsSection = sections.find((s) => s.isOptions);
  const options = optionsSection ? interpretOptions(optionsSection, report) : { ...defaultOptions };
  options.useSyslog = useSyslog !== undefined && mode.dropIn !== true;
  const doors: Door[] = [];
  for (const section of sections) {
    if (section.isOptions) continue;
    const door = interpretDoor(section, report);
    if (!door) continue;
    for (const problem of runtimeLimitProblems(door)) report(ErrorCodes.CONFIG_INVALID, problem.message, problem.line, problem.text);
    doors.push(door);
  }
  // Reported in file order, whichever pass found them (Array.prototype.sort is stable).
  throwIfAny(problems.sort((a, b) => a.line - b.line));
  const bound = withFirewall(doors, options.firewall, options.nftTable);
  return includes.length > 0 ? { file, options, doors: bound, includes } : { file, options, doors: bound };
}

/** knockd.conf's keys for the shared section reader: `[options]` holds options, every other section is a door. */
const KNOCKD_DIALECT: SectionDialect<string> = {
  optionsSection: OPTIONS_SECTION,
  flags: new Map([['usesyslog', 'UseSyslog']]),
  keyFor: (section, key) => (section.isOptions ? OPTION_KEYS.get(key) : DOOR_KEYS.get(key)),
  spell: (section, key) => (section.isOptions ? OPTION_KEY_NAMES[key as OptionKey] : DOOR_KEY_NAMES[key as DoorKey]),
  isKnown: (key) => DOOR_KEYS.has(key) || OPTION_KEYS.has(key),
  unknownKey: unknownKeyMessage,
  beforeAnySection: 'directive before any section ([options] or [door name] must come first)',
  repeatable: new Set(['include']),
};

function unknownKeyMessage(writtenKey: string, key: string, section: Section): string {
  if (section.isOptions) {
    return DOOR_KEYS.has(key) ? `${writtenKey} belongs in a door section, not in [options]` : `unknown key "${writtenKey}" in [options]`;
  }
  if (OPTION_KEYS.has(key)) {
    const hint = asciiLower(section.name) === OPTIONS_SECTION ? ` (section names are case-sensitive, as in knockd: write [${OPTIONS_SECTION}])` : '';
    return `${writtenKey} belongs in [options], not in door [${section.name}]${hint}`;
  }
  if (key === 'key') return 'unknown key "Key" (knockd TOTP keys are not supported; see Sequence_Secret)';
  return `unknown key "${writtenKey}" in door [${section.name}]`;
}

function interpretOptions(section: Section, report: Report): Options {
  const options: Options = { ...defaultOptions };
  // One checker per key, shared with the nfknockd flags that override it (src/config/option-values.ts).
  const take = <T>(entry: Entry, checked: Checked<T>, set: (value: T) => void) => {
    if (checked.ok) set(checked.value);
    else report(ErrorCodes.CONFIG_INVALID, checked.message, entry.line, entry.value);
  };
  for (const [key, entry] of section.entries as Map<OptionKey, Entry>) {
    const value = entry.value;
    const path = (set: (path: string) => void) => take(entry, checkAbsolutePath(OPTION_KEY_NAMES[key], value), set);
    switch (key) {
      case 'logfile':
        if (value !== '') path((p) => (options.logFile = p));
        break;
      case 'pidfile':
        path((p) => (options.pidFile = p));
        break;
      case 'interface':
        if (value !== '') take(entry, checkInterface(value), (name) => (options.interface = name));
        break;
      case 'source':
        take(entry, checkSource(value), (kind) => (options.source = kind));
        break;
      case 'nfloggroup':
        take(entry, checkNflogGroup(value), (group) => (options.nflogGroup = group));
        break;
      case 'logprefix':
        take(entry, checkLogPrefix(value), (prefix) => (options.logPrefix = prefix));
        break;
      case 'statedir':
        path((p) => (options.stateDir = p));
        break;
      case 'kernellog':
        path((p) => (options.kernelLog = p));
        break;
      case 'maxattempts':
        take(entry, checkMaxAttempts(value), (max) => (options.maxAttempts = max));
        break;
      case 'metricsfile':
        path((p) => (options.metricsFile = p));
        break;
      case 'statsfile':
        path((p) => (options.statsFile = p));
        break;
      case 'syslogtag':
        take(entry, checkSyslogTag(value), (tag) => (options.syslogTag = tag));
        break;
      case 'syslogfacility':
        take(entry, checkSyslogFacility(value), (facility) => (options.syslogFacility = facility));
        break;
      case 'firewall':
        take(entry, checkFirewall(value), (firewall) => (options.firewall = firewall));
        break;
      case 'nfttable':
        take(entry, checkNftTable(value), (table) => (options.nftTable = table));
        break;
    }
  }
  for (const key of Object.keys(options) as (keyof Options)[]) if (options[key] === undefined) delete options[key];
  const source = section.entries.get('source');
  if (options.source === 'file' && options.kernelLog === undefined && source && !section.entries.has('kernellog')) {
    report(ErrorCodes.CONFIG_INVALID, 'Source = file needs KernelLog = /path/to/the/kernel/log', source.line, source.text);
  }
  return options;
}

function interpretDoor(section: Section, report: Report): Door | undefined {
  const entries = section.entries as Map<DoorKey, Entry>;
  let valid = true;
  const invalid = (message: string, line: number, quoted: string) => {
    valid = false;
    report(ErrorCodes.CONFIG_INVALID, message, line, quoted);
  };
  const get = (key: DoorKey) => entries.get(key);
  const seconds = (key: DoorKey, fallback: number, min: number): number => {
    const entry = get(key);
    if (!entry) return fallback;
    const value = wholeNumber(entry.value);
    if (value !== undefined && value >= min && value <= MAX_TIMEOUT_SECONDS) return value;
    invalid(`${DOOR_KEY_NAMES[key]} must be a whole number of seconds from ${min} to ${MAX_TIMEOUT_SECONDS}`, entry.line, entry.value);
    return fallback;
  };

  let steps: KnockStep[] = [];
  const sequence = get('sequence');
  if (sequence) {
    const parsed = parseSequence(sequence.value);
    if (parsed.ok) steps = parsed.steps;
    else invalid(`Sequence: ${parsed.message}`, sequence.line, parsed.text);
  }
  const oneTime = get('one_time_sequences');
  if (oneTime && !oneTime.value.startsWith('/')) invalid('One_Time_Sequences must be an absolute path', oneTime.line, oneTime.value);
  const timeSequence = interpretTimeSequence(entries, invalid);

  const seqTimeoutMs = seconds('seq_timeout', DEFAULT_SEQ_TIMEOUT_SECONDS, 1) * 1000;
  const cmdTimeoutMs = seconds('cmd_timeout', DEFAULT_CMD_TIMEOUT_SECONDS, 0) * 1000;
  const tcpFlags = interpretTcpFlags(get('tcpflags'), invalid);

  let target: string | undefined;
  const targetEntry = get('target');
  if (targetEntry) {
    target = canonicalAddress(targetEntry.value)?.address;
    if (target === undefined) invalid('Target must be an IPv4 or IPv6 address', targetEntry.line, targetEntry.value);
  }

  const openEntry = get('open');
  const openPorts = openEntry ? parseOpenPorts(openEntry.value) : undefined;
  if (openEntry && openPorts && !openPorts.ok) invalid(openPorts.message, openEntry.line, openPorts.text);
  if (openEntry && openPorts?.ok) {
    // The kernel removes the entry after cmd_timeout: without one there is no timeout to give it.
    const cmdTimeout = get('cmd_timeout');
    if (!cmdTimeout) invalid('Open needs Cmd_Timeout (seconds, > 0): the kernel closes the door after it even if nfknockd is gone', openEntry.line, openEntry.text);
    else if (cmdTimeoutMs === 0) invalid('with Open, Cmd_Timeout must be > 0 (the kernel cannot keep an entry for 0 seconds)', cmdTimeout.line, cmdTimeout.value);
  }

  if (!section.hadKeyProblem) {
    const given = SEQUENCE_SOURCE_KEYS.filter((key) => entries.has(key)).sort((a, b) => (get(a)?.line ?? 0) - (get(b)?.line ?? 0));
    if (given.length === 0) {
      invalid('door has no Sequence, One_Time_Sequences or Sequence_Secret', section.line, section.text);
    } else if (given.length > 1) {
      const second = get(given[1] as DoorKey) as Entry;
      invalid(`${given.map((k) => DOOR_KEY_NAMES[k]).join(' and ')} exclude each other: give one`, second.line, second.text);
    }
    const start4 = get('start_command')?.value;
    const start6 = get('start_command_6')?.value ?? start4;
    if (!start4 && !start6 && !openEntry) {
      invalid('door has nothing to do: give Open = port[:tcp|udp] or a non-empty Start_Command (or Command, or Start_Command_6)', section.line, section.text);
    }
  }
  if (!valid || section.hadKeyProblem) return undefined;

  const door: Door = { name: section.name, steps, seqTimeoutMs, tcpFlags, cmdTimeoutMs, line: section.line, keyLines: {} };
  for (const [key, entry] of entries) door.keyLines[key] = entry.line;
  if (target !== undefined) door.target = target;
  for (const [key, field] of COMMAND_FIELDS) {
    const entry = get(key);
    if (entry) door[field] = entry.value;
  }
  if (oneTime) door.oneTimeFile = oneTime.value;
  if (timeSequence) door.timeSequence = timeSequence;
  if (openPorts?.ok) door.open = { firewall: defaultOptions.firewall, ports: openPorts.ports };
  return door;
}

const COMMAND_FIELDS = [
  ['start_command', 'startCommand'],
  ['start_command_6', 'startCommand6'],
  ['stop_command', 'stopCommand'],
  ['stop_command_6', 'stopCommand6'],
] as const;

export type Invalid = (message: string, line: number, quoted: string) => void;

function interpretTcpFlags(entry: Entry | undefined, invalid: Invalid): TcpFlagRule {
  const rule: TcpFlagRule = { required: 0, forbidden: 0 };
  if (!entry) return rule;
  for (const element of entry.value.split(',')) {
    const written = cTrim(element);
    const negated = written.startsWith('!');
    const name = asciiLower(cTrim(negated ? written.slice(1) : written));
    const bit = Object.hasOwn(tcpFlagBits, name) ? tcpFlagBits[name as TcpFlagName] : undefined;
    if (bit === undefined) {
      invalid('TCPFlags: unknown flag (fin, syn, rst, psh, ack, urg, each optionally with "!")', entry.line, written);
      continue;
    }
    if (negated) rule.forbidden |= bit;
    else rule.required |= bit;
    if (rule.required & rule.forbidden) {
      invalid(`TCPFlags: ${name} is both required and forbidden`, entry.line, entry.value);
      return rule;
    }
  }
  return rule;
}

export function interpretTimeSequence(entries: ReadonlyMap<DoorKey, Entry>, invalid: Invalid): TimeSequenceSpec | undefined {
  const secretEntry = entries.get('sequence_secret');
  if (!secretEntry) {
    for (const key of TIME_SEQUENCE_DETAIL_KEYS) {
      const entry = entries.get(key);
      if (entry) invalid(`${DOOR_KEY_NAMES[key]} only applies with Sequence_Secret`, entry.line, entry.text);
    }
    return undefined;
  }
  const spec: TimeSequenceSpec = {
    length: DEFAULT_SEQUENCE_LENGTH,
    portMin: 1,
    portMax: 65535,
    periodSeconds: DEFAULT_SEQUENCE_PERIOD_SECONDS,
    protocols: 'tcp',
  };
  const secret = secretEntry.value;
  if (secret.startsWith('@')) {
    const path = secret.slice(1);
    if (path.startsWith('/')) spec.secretFile = path;
    else invalid('Sequence_Secret = @file needs an absolute path', secretEntry.line, secret);
  } else {
    const decoded = decodeBase32(secret);
    if (!decoded.ok) invalid(`Sequence_Secret: ${decoded.message}`, secretEntry.line, SECRET_NOT_SHOWN);
    else if (decoded.bytes.length < MIN_SECRET_BYTES) {
      invalid(`Sequence_Secret: too short (${decoded.bytes.length} bytes; at least ${MIN_SECRET_BYTES}, i.e. 26 base32 characters)`, secretEntry.line, SECRET_NOT_SHOWN);
    } else spec.secret = decoded.bytes;
  }

  const length = entries.get('sequence_length');
  if (length) {
    const value = wholeNumber(length.value);
    if (value !== undefined && value >= MIN_SEQUENCE_LENGTH && value <= MAX_SEQUENCE_LENGTH) spec.length = value;
    else invalid(`Sequence_Length must be a whole number from ${MIN_SEQUENCE_LENGTH} to ${MAX_SEQUENCE_LENGTH}`, length.line, length.value);
  }
  const period = entries.get('sequence_period');
  if (period) {
    const value = wholeNumber(period.value);
    // The bound deriveSequence enforces at every knock (issue 10: 100000 passed here, then threw at each knock).
    if (value !== undefined && value >= MIN_SEQUENCE_PERIOD_SECONDS && value <= TIME_SEQUENCE_LIMITS.maxPeriodSeconds) spec.periodSeconds = value;
    else invalid(`Sequence_Period must be a whole number of seconds from ${MIN_SEQUENCE_PERIOD_SECONDS} to ${TIME_SEQUENCE_LIMITS.maxPeriodSeconds}`, period.line, period.value);
  }
  const protocols = entries.get('sequence_protocols');
  if (protocols) {
    const value = asciiLower(protocols.value);
    if (value === 'tcp' || value === 'udp' || value === 'mixed') spec.protocols = value;
    else invalid('Sequence_Protocols must be tcp, udp or mixed', protocols.line, protocols.value);
  }
  const ports = entries.get('sequence_ports');
  if (!ports) {
    // No default range: a range reaching 1-1023 would make knocks of real services' ports.
    invalid('Sequence_Secret needs Sequence_Ports = A-B (the range the knock ports are drawn from)', secretEntry.line, SECRET_NOT_SHOWN);
  } else {
    const match = /^([^-]*)-([^-]*)$/.exec(ports.value);
    const min = match ? parsePort(cTrim(match[1] ?? '')) : undefined;
    const max = match ? parsePort(cTrim(match[2] ?? '')) : undefined;
    if (min === undefined || max === undefined || min > max) {
      invalid('Sequence_Ports must be a range A-B of ports, 1 <= A <= B <= 65535', ports.line, ports.value);
    } else if (max - min + 1 < spec.length) {
      invalid(`Sequence_Ports holds ${max - min + 1} ports, fewer than Sequence_Length (${spec.length})`, ports.line, ports.value);
    } else {
      spec.portMin = min;
      spec.portMax = max;
    }
  }
  return spec;
}
