/**
 * A model of valid knockd.conf files for property tests: fast-check generates the model, `render`
 * writes it as text in randomly varied but valid spellings (key case, aliases, spacing, comments,
 * CRLF, key order) and computes the Config the parser must return, independently of the parser.
 */
import fc from 'fast-check';
import { canonicalAddress } from '../../src/core/address.js';
import { encodeBase32 } from '../../src/config/base32.js';
import { defaultOptions, tcpFlagBits, type Config, type Door, type KnockStep, type Options, type TcpFlagName } from '../../src/core/types.js';

export interface LineStyle {
  caseMask: number;
  alias: boolean;
  indent: string;
  beforeEquals: string;
  afterEquals: string;
  trailing: string;
  /** 0: nothing, 1: a comment line, 2: a blank line before this line. */
  filler: number;
}

type SequenceModel =
  | { kind: 'steps'; steps: KnockStep[] }
  | { kind: 'oneTime'; file: string }
  | {
      kind: 'secret';
      secret: Uint8Array;
      lowerCase: boolean;
      padded: boolean;
      length?: number;
      portMin: number;
      span: number;
      period?: number;
      protocols?: 'tcp' | 'udp' | 'mixed';
    };

export interface DoorModel {
  name: string;
  sequence: SequenceModel;
  seqTimeout?: number;
  cmdTimeout?: number;
  flags: { name: TcpFlagName; negated: boolean }[];
  target?: string;
  start: string;
  start6?: string;
  stop?: string;
  stop6?: string;
  /** Sort keys for the door's lines, so that key order varies. */
  order: number[];
}

export interface ConfigModel {
  options?: Partial<Record<'logFile' | 'pidFile' | 'interface' | 'nflogGroup' | 'logPrefix' | 'stateDir' | 'maxAttempts', string | number>> & {
    useSyslog: boolean;
    fileSource?: string;
  };
  doors: DoorModel[];
  styles: LineStyle[];
  crlf: boolean;
  bom: boolean;
}

const C_SPACE = /^[ \t\v\f\r]|[ \t\v\f\r]$/;
const whitespace = fc.constantFrom('', ' ', '  ', '\t', ' \t ');
const path = fc.stringMatching(/^(\/[a-z0-9._-]{1,8}){1,4}$/);

/** Command text: anything but a line break or NUL, not starting or ending with C whitespace. */
export const commandText = fc.oneof(
  fc.constantFrom(
    '/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    'echo %IP% >> /tmp/knocks; logger "#knock %IP%"',
    "sh -c 'a=1; b=$((a+1)); echo \"$b\" # done'",
  ),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }).filter((s) => !/[\n\u0000]/.test(s) && !C_SPACE.test(s)),
);

const stopCommandText = commandText.filter((s) => !/[\u0000-\u0008\u000a-\u001f\u007f]/.test(s));

const flagNames = Object.keys(tcpFlagBits) as TcpFlagName[];

const sequenceModel: fc.Arbitrary<SequenceModel> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('steps' as const), steps: fc.array(fc.record({ port: fc.integer({ min: 1, max: 65535 }), protocol: fc.constantFrom('tcp' as const, 'udp' as const) }), { minLength: 1, maxLength: 32 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('oneTime' as const), file: path }) },
  {
    weight: 1,
    arbitrary: fc.record(
      {
        kind: fc.constant('secret' as const),
        secret: fc.uint8Array({ minLength: 16, maxLength: 40 }),
        lowerCase: fc.boolean(),
        padded: fc.boolean(),
        length: fc.integer({ min: 2, max: 16 }),
        portMin: fc.integer({ min: 1, max: 60000 }),
        span: fc.integer({ min: 16, max: 5535 }),
        period: fc.integer({ min: 5, max: 3600 }),
        protocols: fc.constantFrom('tcp' as const, 'udp' as const, 'mixed' as const),
      },
      { requiredKeys: ['kind', 'secret', 'lowerCase', 'padded', 'portMin', 'span'] },
    ),
  },
);

const doorName = fc
  .string({ unit: fc.oneof(fc.constantFrom('a', 'B', 'z', '0', ' ', '-', '_', '[', ']', '=', '#', ';', 'é', '✓'), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 })), minLength: 1, maxLength: 12 })
  .filter((name) => !/[\u0000-\u001f\u007f]/.test(name) && name !== 'options');

const doorModel: fc.Arbitrary<DoorModel> = fc.record(
  {
    name: doorName,
    sequence: sequenceModel,
    seqTimeout: fc.integer({ min: 1, max: 2147483 }),
    cmdTimeout: fc.integer({ min: 0, max: 2147483 }),
    flags: fc.uniqueArray(fc.record({ name: fc.constantFrom(...flagNames), negated: fc.boolean() }), { selector: (f) => f.name, maxLength: 6 }),
    // The unspecified address is refused: no knock is ever sent to it.
    target: fc.oneof(fc.ipV4(), fc.ipV6()).filter((address) => canonicalAddress(address)?.address !== '0.0.0.0' && canonicalAddress(address)?.address !== '::'),
    start: commandText,
    start6: fc.oneof(fc.constant(''), commandText),
    // The state file keeps stop commands: single-line text, tabs allowed.
    stop: fc.oneof(fc.constant(''), stopCommandText),
    stop6: fc.oneof(fc.constant(''), stopCommandText),
    order: fc.array(fc.nat(), { minLength: 16, maxLength: 16 }),
  },
  { requiredKeys: ['name', 'sequence', 'flags', 'start', 'order'] },
);

const lineStyle: fc.Arbitrary<LineStyle> = fc.record({
  caseMask: fc.nat(),
  alias: fc.boolean(),
  indent: whitespace,
  beforeEquals: whitespace,
  afterEquals: whitespace,
  trailing: whitespace,
  filler: fc.constantFrom(0, 0, 0, 1, 2),
});

export const configModel: fc.Arbitrary<ConfigModel> = fc.record(
  {
    options: fc.record(
      {
        useSyslog: fc.boolean(),
        logFile: path,
        pidFile: path,
        interface: fc.stringMatching(/^[a-z][a-z0-9]{0,6}[0-9]$/),
        nflogGroup: fc.integer({ min: 0, max: 65535 }),
        logPrefix: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,29}$/),
        stateDir: path,
        maxAttempts: fc.integer({ min: 1, max: 10_000_000 }),
        fileSource: path,
      },
      { requiredKeys: ['useSyslog'] },
    ),
    doors: fc.uniqueArray(doorModel, { selector: (d) => d.name, maxLength: 5 }),
    styles: fc.array(lineStyle, { minLength: 1, maxLength: 24 }),
    crlf: fc.boolean(),
    bom: fc.boolean(),
  },
  { requiredKeys: ['doors', 'styles', 'crlf', 'bom'] },
);

const ALIASES: Record<string, string> = { seq_timeout: 'Timeout', start_command: 'Command', start_command_6: 'Command_6' };
const SPELLING: Record<string, string> = {
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
};

function recase(key: string, mask: number): string {
  return [...key].map((c, i) => ((mask >> i % 30) & 1 ? c.toUpperCase() : c.toLowerCase())).join('');
}

export interface Rendered {
  text: string;
  expected: Config;
}

export function render(model: ConfigModel, file: string): Rendered {
  const lines: string[] = [];
  let styleIndex = 0;
  const nextStyle = () => model.styles[styleIndex++ % model.styles.length] as LineStyle;
  const emit = (content: string, style: LineStyle): number => {
    if (style.filler === 1) lines.push(`${style.indent}# comment ; with = signs [x]`);
    if (style.filler === 2) lines.push(style.trailing);
    lines.push(content);
    return lines.length;
  };
  const keyLine = (canonical: string, value: string): number => {
    const style = nextStyle();
    const spelling = style.alias && ALIASES[canonical] ? (ALIASES[canonical] as string) : (SPELLING[canonical] as string);
    const key = recase(spelling, style.caseMask);
    const separator = value === '' ? `${style.beforeEquals}=` : `${style.beforeEquals}=${style.afterEquals}`;
    return emit(`${style.indent}${key}${separator}${value}${value === '' ? '' : style.trailing}`, style);
  };

  const options: Options = { ...defaultOptions };
  const o = model.options;
  if (o) {
    emit(`${nextStyle().indent}[options]`, nextStyle());
    if (o.useSyslog) {
      const style = nextStyle();
      emit(`${style.indent}${recase('UseSyslog', style.caseMask)}${style.trailing}`, style);
      options.useSyslog = true;
    }
    const optionLine = (key: string, value: string | number) => {
      const style = nextStyle();
      emit(`${style.indent}${recase(key, style.caseMask)}${style.beforeEquals}=${style.afterEquals}${value}${style.trailing}`, style);
    };
    if (o.logFile !== undefined) optionLine('LogFile', (options.logFile = String(o.logFile)));
    if (o.pidFile !== undefined) optionLine('PidFile', (options.pidFile = String(o.pidFile)));
    if (o.interface !== undefined) optionLine('Interface', (options.interface = String(o.interface)));
    if (o.nflogGroup !== undefined) optionLine('NflogGroup', (options.nflogGroup = Number(o.nflogGroup)));
    if (o.logPrefix !== undefined) optionLine('LogPrefix', (options.logPrefix = String(o.logPrefix)));
    if (o.stateDir !== undefined) optionLine('StateDir', (options.stateDir = String(o.stateDir)));
    if (o.maxAttempts !== undefined) optionLine('MaxAttempts', (options.maxAttempts = Number(o.maxAttempts)));
    if (o.fileSource !== undefined) {
      optionLine('Source', 'file');
      optionLine('KernelLog', (options.kernelLog = o.fileSource));
      options.source = 'file';
    }
  }

  const doors = model.doors.map((d) => renderDoor(d, emit, keyLine, nextStyle));
  const eol = model.crlf ? '\r\n' : '\n';
  const text = (model.bom ? '\uFEFF' : '') + lines.join(eol) + eol;
  return { text, expected: { file, options, doors } };
}

function renderDoor(
  d: DoorModel,
  emit: (content: string, style: LineStyle) => number,
  keyLine: (canonical: string, value: string) => number,
  nextStyle: () => LineStyle,
): Door {
  const style = nextStyle();
  const line = emit(`${style.indent}[${d.name}]${style.trailing}`, style);
  const door: Door = {
    name: d.name,
    steps: [],
    seqTimeoutMs: (d.seqTimeout ?? 25) * 1000,
    tcpFlags: { required: 0, forbidden: 0 },
    cmdTimeoutMs: (d.cmdTimeout ?? 10) * 1000,
    line,
    keyLines: {},
  };
  const entries: [string, string, () => void][] = [];
  const s = d.sequence;
  if (s.kind === 'steps') {
    entries.push(['sequence', s.steps.map((step, i) => (i % 3 === 0 && step.protocol === 'tcp' ? `${step.port}` : `${step.port}:${i % 2 ? step.protocol.toUpperCase() : step.protocol}`)).join(i0(s.steps.length)), () => (door.steps = s.steps.map((step) => ({ ...step })))]);
  } else if (s.kind === 'oneTime') {
    entries.push(['one_time_sequences', s.file, () => (door.oneTimeFile = s.file)]);
  } else {
    const base32 = encodeBase32(s.secret);
    const padded = s.padded ? base32.padEnd(Math.ceil(base32.length / 8) * 8, '=') : base32;
    const length = s.length ?? 4;
    const portMax = Math.min(65535, s.portMin + Math.max(s.span, length) - 1);
    const portMin = Math.min(s.portMin, portMax - length + 1);
    door.timeSequence = { secret: s.secret, length, portMin, portMax, periodSeconds: s.period ?? 30, protocols: s.protocols ?? 'tcp' };
    entries.push(['sequence_secret', s.lowerCase ? padded.toLowerCase() : padded, () => {}]);
    entries.push(['sequence_ports', `${portMin}-${portMax}`, () => {}]);
    if (s.length !== undefined) entries.push(['sequence_length', String(s.length), () => {}]);
    if (s.period !== undefined) entries.push(['sequence_period', String(s.period), () => {}]);
    if (s.protocols !== undefined) entries.push(['sequence_protocols', s.protocols, () => {}]);
  }
  if (d.seqTimeout !== undefined) entries.push(['seq_timeout', String(d.seqTimeout), () => {}]);
  if (d.cmdTimeout !== undefined) entries.push(['cmd_timeout', String(d.cmdTimeout), () => {}]);
  if (d.flags.length > 0) {
    const text = d.flags.map((f, i) => `${f.negated ? '!' : ''}${i % 2 ? f.name.toUpperCase() : f.name}`).join(d.flags.length % 2 ? ', ' : ',');
    entries.push(['tcpflags', text, () => {
      for (const f of d.flags) door.tcpFlags[f.negated ? 'forbidden' : 'required'] |= tcpFlagBits[f.name];
    }]);
  }
  if (d.target !== undefined) {
    const target = d.target;
    entries.push(['target', target, () => (door.target = canonicalAddress(target)?.address)]);
  }
  entries.push(['start_command', d.start, () => (door.startCommand = d.start)]);
  if (d.start6 !== undefined) entries.push(['start_command_6', d.start6, () => (door.startCommand6 = d.start6)]);
  if (d.stop !== undefined) entries.push(['stop_command', d.stop, () => (door.stopCommand = d.stop)]);
  if (d.stop6 !== undefined) entries.push(['stop_command_6', d.stop6, () => (door.stopCommand6 = d.stop6)]);

  const ordered = entries.map((entry, i) => ({ entry, rank: d.order[i] ?? i })).sort((a, b) => a.rank - b.rank);
  for (const { entry: [key, value, apply] } of ordered) {
    door.keyLines[key] = keyLine(key, value);
    apply();
  }
  return door;
}

/** Separator between sequence steps: spaces around commas are tolerated. */
function i0(length: number): string {
  return length % 2 ? ', ' : ',';
}
