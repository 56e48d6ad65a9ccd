import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../src/config/parse.js';
import { ConfigError } from '../src/config/problems.js';
import { resolveStartCommand, resolveStopCommand } from '../src/config/commands.js';
import { encodeBase32 } from '../src/config/base32.js';
import { ErrorCodes, NfknockError } from '../src/core/errors.js';
import { defaultOptions, TcpFlag, type Door } from '../src/core/types.js';
import { assertRefused, conf, FILE, parse, problemsOf } from './helpers/config-assert.js';

const SYNTAX = ErrorCodes.CONFIG_SYNTAX;
const INVALID = ErrorCodes.CONFIG_INVALID;

/** Debian's /etc/knockd.conf as shipped by the knockd package (tabs included). */
const DEBIAN_KNOCKD_CONF = `[options]
	UseSyslog

[openSSH]
	sequence    = 7000,8000,9000
	seq_timeout = 5
	command     = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
	tcpflags    = syn

[closeSSH]
	sequence    = 9000,8000,7000
	seq_timeout = 5
	command     = /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
	tcpflags    = syn

[openHTTPS]
	sequence    = 12345,54321,24680,13579
	seq_timeout = 5
	command     = /usr/local/sbin/knock_add -i -c INPUT -p tcp -d 443 -f %IP%
	tcpflags    = syn
`;

function tcp(...ports: number[]) {
  return ports.map((port) => ({ port, protocol: 'tcp' as const }));
}

function assertDebianDoors(doors: Door[]) {
  assert.deepEqual(
    doors.map((d) => [d.name, d.steps, d.seqTimeoutMs, d.tcpFlags, d.cmdTimeoutMs, d.line]),
    [
      ['openSSH', tcp(7000, 8000, 9000), 5000, { required: TcpFlag.SYN, forbidden: 0 }, 10000, 4],
      ['closeSSH', tcp(9000, 8000, 7000), 5000, { required: TcpFlag.SYN, forbidden: 0 }, 10000, 10],
      ['openHTTPS', tcp(12345, 54321, 24680, 13579), 5000, { required: TcpFlag.SYN, forbidden: 0 }, 10000, 16],
    ],
  );
  assert.equal(doors[0]?.startCommand, '/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT');
  assert.equal(doors[2]?.startCommand, '/usr/local/sbin/knock_add -i -c INPUT -p tcp -d 443 -f %IP%');
  assert.deepEqual(doors[0]?.keyLines, { sequence: 5, seq_timeout: 6, start_command: 7, tcpflags: 8 });
  for (const door of doors) {
    assert.equal(door.startCommand6, undefined, 'the IPv6 fallback is the runner\'s job');
    assert.equal(door.stopCommand, undefined);
  }
}

test("Debian's default knockd.conf (embedded copy) parses to its three doors", () => {
  const config = parseConfig(DEBIAN_KNOCKD_CONF, FILE);
  assert.equal(config.file, FILE);
  assert.deepEqual(config.options, { ...defaultOptions, useSyslog: true });
  assertDebianDoors(config.doors);
});

test('knockd(1) example 1: two doors and a log file', () => {
  const config = parse(
    '[options]',
    '     logfile = /var/log/knockd.log',
    '',
    '[openSSH]',
    '     sequence    = 7000,8000,9000',
    '     seq_timeout = 10',
    '     tcpflags    = syn',
    '     command     = /sbin/iptables -A INPUT -s %IP% --dport 22 -j ACCEPT',
    '',
    '[closeSSH]',
    '     sequence    = 9000,8000,7000',
    '     seq_timeout = 10',
    '     tcpflags    = syn',
    '     command     = /sbin/iptables -D INPUT -s %IP% --dport 22 -j ACCEPT',
  );
  assert.equal(config.options.logFile, '/var/log/knockd.log');
  assert.equal(config.options.useSyslog, false);
  assert.deepEqual(config.doors.map((d) => [d.name, d.steps, d.seqTimeoutMs]), [
    ['openSSH', tcp(7000, 8000, 9000), 10000],
    ['closeSSH', tcp(9000, 8000, 7000), 10000],
  ]);
});

test('knockd(1) example 2: mixed protocols, start/stop commands, cmd_timeout', () => {
  const [door] = parse(
    '[options]',
    '     logfile = /var/log/knockd.log',
    '[opencloseSSH]',
    '     sequence      = 2222:udp,3333:tcp,4444:udp',
    '     seq_timeout   = 15',
    '     tcpflags      = syn,ack',
    '     start_command = /usr/sbin/iptables -A INPUT -s %IP% -p tcp --syn -j ACCEPT',
    '     cmd_timeout   = 5',
    '     stop_command  = /usr/sbin/iptables -D INPUT -s %IP% -p tcp --syn -j ACCEPT',
  ).doors;
  assert.ok(door);
  assert.deepEqual(door.steps, [
    { port: 2222, protocol: 'udp' },
    { port: 3333, protocol: 'tcp' },
    { port: 4444, protocol: 'udp' },
  ]);
  assert.equal(door.seqTimeoutMs, 15000);
  assert.equal(door.cmdTimeoutMs, 5000);
  assert.deepEqual(door.tcpFlags, { required: TcpFlag.SYN | TcpFlag.ACK, forbidden: 0 });
  assert.equal(door.stopCommand, '/usr/sbin/iptables -D INPUT -s %IP% -p tcp --syn -j ACCEPT');
});

test('knockd(1) examples 3 and 4: one-time sequences, negated flags, IPv6 commands', () => {
  const [door] = parse(
    '[options]',
    '     logfile = /var/log/knockd.log',
    '[opencloseSMTP]',
    '     one_time_sequences = /etc/knockd/smtp_sequences',
    '     seq_timeout        = 15',
    '     tcpflags           = fin,!ack',
    '     start_command      = /usr/sbin/iptables -A INPUT -s %IP% -p tcp --dport 25 -j ACCEPT',
    '     start_command_6    = /usr/sbin/ip6tables -A INPUT -s %IP% -p tcp --dport 25 -j ACCEPT',
    '     cmd_timeout        = 5',
    '     stop_command       = /usr/sbin/iptables -D INPUT -s %IP% -p tcp --dport 25 -j ACCEPT',
    '     stop_command_6     = /usr/sbin/ip6tables -D INPUT -s %IP% -p tcp --dport 25 -j ACCEPT',
  ).doors;
  assert.ok(door);
  assert.deepEqual(door.steps, []);
  assert.equal(door.oneTimeFile, '/etc/knockd/smtp_sequences');
  assert.deepEqual(door.tcpFlags, { required: TcpFlag.FIN, forbidden: TcpFlag.ACK });
  assert.equal(door.startCommand6, '/usr/sbin/ip6tables -A INPUT -s %IP% -p tcp --dport 25 -j ACCEPT');
  assert.equal(door.stopCommand6, '/usr/sbin/ip6tables -D INPUT -s %IP% -p tcp --dport 25 -j ACCEPT');
  assert.equal(door.keyLines['one_time_sequences'], 4);
  assert.equal(door.keyLines['stop_command_6'], 11);
});

test('defaults: 25 s sequence timeout, 10 s command timeout, no flags, tcp', () => {
  const [door] = parse('[d]', 'sequence = 1,65535', 'command = x').doors;
  assert.deepEqual(door, {
    name: 'd',
    steps: tcp(1, 65535),
    seqTimeoutMs: 25000,
    tcpFlags: { required: 0, forbidden: 0 },
    cmdTimeoutMs: 10000,
    line: 1,
    keyLines: { sequence: 2, start_command: 3 },
    startCommand: 'x',
  });
  assert.deepEqual(parse('[d]', 'sequence = 1', 'command = x').options, defaultOptions);
});

test('aliases: Timeout, Command, Command_6 land on the canonical keys', () => {
  const [door] = parse('[d]', 'Sequence = 1', 'Timeout = 7', 'Command = four', 'Command_6 = six').doors;
  assert.ok(door);
  assert.equal(door.seqTimeoutMs, 7000);
  assert.equal(door.startCommand, 'four');
  assert.equal(door.startCommand6, 'six');
  assert.deepEqual(door.keyLines, { sequence: 2, seq_timeout: 3, start_command: 4, start_command_6: 5 });
});

test('keys are case-insensitive, values keep their case, sections keep their name as written', () => {
  const [door] = parse('[Open SSH!]', 'SEQUENCE=1:UDP , 2 : Tcp', 'sTaRt_CoMmAnD=Echo HI', 'tcpFLAGS = SYN, !Ack').doors;
  assert.ok(door);
  assert.equal(door.name, 'Open SSH!');
  assert.deepEqual(door.steps, [
    { port: 1, protocol: 'udp' },
    { port: 2, protocol: 'tcp' },
  ]);
  assert.equal(door.startCommand, 'Echo HI');
  assert.deepEqual(door.tcpFlags, { required: TcpFlag.SYN, forbidden: TcpFlag.ACK });
});

test('every TCP flag maps to its wire bit, negated or not', () => {
  const [door] = parse('[d]', 'sequence = 1', 'command = x', 'tcpflags = fin,syn,rst,!psh,!ack,urg').doors;
  assert.deepEqual(door?.tcpFlags, {
    required: TcpFlag.FIN | TcpFlag.SYN | TcpFlag.RST | TcpFlag.URG,
    forbidden: TcpFlag.PSH | TcpFlag.ACK,
  });
});

test('Target is canonicalised; Cmd_Timeout 0 is allowed; leading zeros are plain decimal', () => {
  const [door] = parse('[d]', 'sequence = 007000', 'command = x', 'target = FD00:0:0::0002', 'cmd_timeout = 0').doors;
  assert.equal(door?.target, 'fd00::2');
  assert.equal(door?.cmdTimeoutMs, 0);
  assert.deepEqual(door?.steps, tcp(7000));
});

test('options: every knockd and nfknock key', () => {
  const { options } = parse(
    '[options]',
    'UseSyslog',
    'LogFile = /var/log/knockd.log',
    'PidFile = /run/nfknockd.pid',
    'Interface = eth0',
    'Source = FILE',
    'NflogGroup = 65535',
    'LogPrefix = knock:',
    'StateDir = /var/lib/nfknock2',
    'KernelLog = /var/log/kern.log',
    'MaxAttempts = 1000',
    'MetricsFile = /var/lib/prometheus/node-exporter/nfknock.prom',
    'StatsFile = /run/nfknock2/stats.json',
    'SyslogTag = knockd',
    'SyslogFacility = authpriv',
    'Firewall = IPSET',
    'NftTable = filter',
  );
  assert.deepEqual(options, {
    useSyslog: true,
    logFile: '/var/log/knockd.log',
    pidFile: '/run/nfknockd.pid',
    interface: 'eth0',
    source: 'file',
    nflogGroup: 65535,
    logPrefix: 'knock:',
    stateDir: '/var/lib/nfknock2',
    kernelLog: '/var/log/kern.log',
    maxAttempts: 1000,
    metricsFile: '/var/lib/prometheus/node-exporter/nfknock.prom',
    statsFile: '/run/nfknock2/stats.json',
    syslogTag: 'knockd',
    syslogFacility: 'authpriv',
    firewall: 'ipset',
    nftTable: 'filter',
  });
});

test('an empty LogFile or Interface means "not set", as in knockd', () => {
  const { options } = parse('[options]', 'LogFile =', 'Interface = ', 'NflogGroup = 0');
  assert.deepEqual(options, { ...defaultOptions, nflogGroup: 0 });
});

test('UseSyslog is accepted in a door section too (knockd treats it as global anywhere)', () => {
  const config = parse('[d]', 'sequence = 1', 'UseSyslog', 'command = x');
  assert.equal(config.options.useSyslog, true);
  assert.equal(config.doors.length, 1);
});

test('[Options] is a door named "Options", as in knockd: a door with a sequence works', () => {
  const config = parse('[Options]', 'sequence = 1', 'command = x');
  assert.equal(config.doors[0]?.name, 'Options');
});

test('[Options] holding options is refused with a hint about case', () => {
  assertRefused(conf('[Options]', 'LogFile = /var/log/knockd.log'), {
    code: SYNTAX,
    line: 2,
    text: 'LogFile = /var/log/knockd.log',
    message: /belongs in \[options\].*case-sensitive/,
  });
});

test('a config with no doors is accepted (knockd starts with none too)', () => {
  assert.deepEqual(parseConfig('', FILE).doors, []);
  assert.deepEqual(parse('# nothing', '[options]', 'UseSyslog').doors, []);
});

test('comments and blank lines anywhere; CRLF line ends; a UTF-8 BOM', () => {
  const config = parseConfig('\uFEFF# top\r\n[options]\r\n  # indented comment\r\n\r\n\tUseSyslog\r\n[d]\r\nsequence = 1\r\ncommand = a b\r\n', FILE);
  assert.equal(config.options.useSyslog, true);
  assert.equal(config.doors[0]?.startCommand, 'a b');
  assert.equal(config.doors[0]?.line, 6);
});

test('resolveStartCommand/resolveStopCommand fall back from IPv6 to IPv4 like knockd', () => {
  const both = parse('[d]', 'sequence = 1', 'command = s4', 'stop_command = t4').doors[0] as Door;
  assert.deepEqual([resolveStartCommand(both, 4), resolveStopCommand(both, 4)], ['s4', 't4']);
  assert.deepEqual([resolveStartCommand(both, 6), resolveStopCommand(both, 6)], ['s4', 't4']);

  const split = parse('[d]', 'sequence = 1', 'command = s4', 'command_6 = s6', 'stop_command = t4', 'stop_command_6 = t6').doors[0] as Door;
  assert.deepEqual([resolveStartCommand(split, 6), resolveStopCommand(split, 6)], ['s6', 't6']);
  assert.deepEqual([resolveStartCommand(split, 4), resolveStopCommand(split, 4)], ['s4', 't4']);

  // "You can use empty value to force doing nothing" (knockd(1)); no start means no stop either.
  const v4only = parse('[d]', 'sequence = 1', 'command = s4', 'start_command_6 =', 'stop_command = t4').doors[0] as Door;
  assert.equal(v4only.startCommand6, '');
  assert.deepEqual([resolveStartCommand(v4only, 6), resolveStopCommand(v4only, 6)], [undefined, undefined]);
  assert.deepEqual([resolveStartCommand(v4only, 4), resolveStopCommand(v4only, 4)], ['s4', 't4']);

  const v6only = parse('[d]', 'sequence = 1', 'command_6 = s6').doors[0] as Door;
  assert.deepEqual([resolveStartCommand(v6only, 4), resolveStartCommand(v6only, 6)], [undefined, 's6']);

  const emptyStop6 = parse('[d]', 'sequence = 1', 'command = s', 'stop_command = t', 'stop_command_6 =').doors[0] as Door;
  assert.equal(resolveStopCommand(emptyStop6, 6), undefined);
});

const SECRET = new Uint8Array(20).map((_, i) => i * 13 + 1);
const SECRET_TEXT = encodeBase32(SECRET);

test('time-based sequence: every key, defaults, base32 case and padding', () => {
  const [full] = parse(
    '[t]',
    `sequence_secret = ${SECRET_TEXT.toLowerCase()}`,
    'sequence_length = 6',
    'sequence_ports = 40000 - 40999',
    'sequence_period = 60',
    'sequence_protocols = Mixed',
    'command = x',
  ).doors;
  assert.ok(full);
  assert.deepEqual(full.steps, []);
  assert.deepEqual(full.timeSequence, { secret: SECRET, length: 6, portMin: 40000, portMax: 40999, periodSeconds: 60, protocols: 'mixed' });

  const [plain] = parse('[t]', `sequence_secret = ${SECRET_TEXT}`, 'sequence_ports = 2000-2003', 'command = x').doors;
  assert.deepEqual(plain?.timeSequence, { secret: SECRET, length: 4, portMin: 2000, portMax: 2003, periodSeconds: 30, protocols: 'tcp' });

  const sixteen = new Uint8Array(16).fill(0xa5);
  const padded = `${encodeBase32(sixteen)}======`;
  assert.equal(padded.length, 32);
  const [withPadding] = parse('[t]', `sequence_secret = ${padded}`, 'sequence_ports = 2000-2003', 'command = x').doors;
  assert.deepEqual(withPadding?.timeSequence?.secret, sixteen);

  const [fromFile] = parse('[t]', 'sequence_secret = @/etc/nfknock/secret', 'sequence_ports = 2000-2999', 'command = x').doors;
  assert.equal(fromFile?.timeSequence?.secretFile, '/etc/nfknock/secret');
  assert.equal(fromFile?.timeSequence?.secret, undefined);
});

test('time-based sequence refusals never quote the secret', () => {
  const cases: [string[], number, RegExp][] = [
    [[`sequence_secret = ${SECRET_TEXT.slice(0, 24)}`, 'sequence_ports = 1000-2000'], 2, /too short/],
    [[`sequence_secret = ${SECRET_TEXT.slice(0, 30)}1`, 'sequence_ports = 1000-2000'], 2, /not base32/],
    [[`sequence_secret = ${SECRET_TEXT}=`, 'sequence_ports = 1000-2000'], 2, /padding/],
    [[`sequence_secret = ${SECRET_TEXT}`], 2, /needs Sequence_Ports/],
    [['sequence_secret = @relative/path', 'sequence_ports = 1000-2000'], 2, /absolute/],
    [[`sequence_secret = ${SECRET_TEXT}`, 'sequence_ports = 1000-1002'], 3, /fewer than Sequence_Length/],
    [[`sequence_secret = ${SECRET_TEXT}`, 'sequence_ports = 2000-1000'], 3, /range/],
    [[`sequence_secret = ${SECRET_TEXT}`, 'sequence_ports = 0-1000'], 3, /range/],
    [[`sequence_secret = ${SECRET_TEXT}`, 'sequence_ports = 1000'], 3, /range/],
    [[`sequence_secret = ${SECRET_TEXT}`, 'sequence_ports = 1000-2000', 'sequence_length = 1'], 4, /Sequence_Length/],
    [[`sequence_secret = ${SECRET_TEXT}`, 'sequence_ports = 1000-2000', 'sequence_length = 17'], 4, /Sequence_Length/],
    [[`sequence_secret = ${SECRET_TEXT}`, 'sequence_ports = 1000-2000', 'sequence_period = 4'], 4, /Sequence_Period/],
    [[`sequence_secret = ${SECRET_TEXT}`, 'sequence_ports = 1000-2000', 'sequence_protocols = sctp'], 4, /Sequence_Protocols/],
    [['sequence = 1', 'sequence_length = 5'], 3, /only applies with Sequence_Secret/],
    [[`sequence_secret = ${SECRET_TEXT}`, 'sequence_ports = 1000-2000', 'sequence = 1'], 4, /exclude each other/],
  ];
  for (const [lines, line, message] of cases) {
    const text = conf('[t]', ...lines, 'command = x');
    const problems = problemsOf(text);
    assert.equal(problems.length, 1, `${lines.join(' | ')}: ${problems.map((p) => p.message).join('; ')}`);
    assert.equal(problems[0]?.line, line, lines.join(' | '));
    assert.match(problems[0]?.message ?? '', message);
    for (const p of problems) assert.ok(!`${p.message} ${p.text}`.includes(SECRET_TEXT.slice(0, 16)), 'secret leaked');
  }
});

test('refusals: each with its code, line number and quoted text', () => {
  const door = (...lines: string[]) => conf('[d]', 'command = x', ...lines);
  const cases: [string, { code: typeof SYNTAX | typeof INVALID; line: number; text?: string; message?: RegExp }][] = [
    [conf('sequence = 1', '[d]', 'sequence = 1', 'command = x'), { code: SYNTAX, line: 1, text: 'sequence = 1', message: /before any section/ }],
    [conf('UseSyslog'), { code: SYNTAX, line: 1, text: 'UseSyslog', message: /before any section/ }],
    [door('sequence = notaport'), { code: INVALID, line: 3, text: 'notaport', message: /bad port/ }],
    [door('sequence = 70000'), { code: INVALID, line: 3, text: '70000' }],
    [door('sequence = 0'), { code: INVALID, line: 3, text: '0' }],
    [door('sequence = -1'), { code: INVALID, line: 3, text: '-1' }],
    [door('sequence = 7000abc'), { code: INVALID, line: 3, text: '7000abc' }],
    [door('sequence = 1:sctp'), { code: INVALID, line: 3, text: '1:sctp', message: /protocol/ }],
    [door('sequence = 1:'), { code: INVALID, line: 3, text: '1:', message: /protocol/ }],
    [door('sequence = 1:udp:x'), { code: INVALID, line: 3, text: '1:udp:x' }],
    [door('sequence ='), { code: INVALID, line: 3, text: '', message: /empty knock sequence/ }],
    [door('sequence = 1,2,'), { code: INVALID, line: 3, text: '1,2,', message: /stray comma/ }],
    [door('sequence = 1,,2'), { code: INVALID, line: 3, text: '1,,2' }],
    [door(`sequence = ${Array.from({ length: 33 }, (_, i) => i + 1).join(',')}`), { code: INVALID, line: 3, text: Array.from({ length: 33 }, (_, i) => i + 1).join(','), message: /too many/ }],
    [door('sequence = 1', 'tcpflags = syn,bogus'), { code: INVALID, line: 4, text: 'bogus', message: /unknown flag/ }],
    [door('sequence = 1', 'tcpflags ='), { code: INVALID, line: 4, text: '' }],
    [door('sequence = 1', 'tcpflags = syn,!syn'), { code: INVALID, line: 4, text: 'syn,!syn', message: /both required and forbidden/ }],
    [door('sequence = 1', 'tcpflags = !!syn'), { code: INVALID, line: 4, text: '!!syn' }],
    [door('sequence = 1', 'seq_timeout = abc'), { code: INVALID, line: 4, text: 'abc', message: /Seq_Timeout/ }],
    [door('sequence = 1', 'seq_timeout = -5'), { code: INVALID, line: 4, text: '-5' }],
    [door('sequence = 1', 'seq_timeout = 0'), { code: INVALID, line: 4, text: '0' }],
    [door('sequence = 1', 'seq_timeout = 2.5'), { code: INVALID, line: 4, text: '2.5' }],
    [door('sequence = 1', 'seq_timeout = NaN'), { code: INVALID, line: 4, text: 'NaN' }],
    [door('sequence = 1', 'timeout = 5s'), { code: INVALID, line: 4, text: '5s', message: /Seq_Timeout/ }],
    [door('sequence = 1', 'seq_timeout ='), { code: INVALID, line: 4, text: '' }],
    [door('sequence = 1', 'cmd_timeout = 2147484'), { code: INVALID, line: 4, text: '2147484', message: /Cmd_Timeout/ }],
    [door('sequence = 1', 'cmd_timeout = Infinity'), { code: INVALID, line: 4, text: 'Infinity' }],
    [door('sequence = 1', 'target = myhost.example'), { code: INVALID, line: 4, text: 'myhost.example', message: /Target/ }],
    [door('sequence = 1', 'one_time_sequences = /x'), { code: INVALID, line: 4, text: 'one_time_sequences = /x', message: /exclude each other/ }],
    [door('one_time_sequences = relative/file'), { code: INVALID, line: 3, text: 'relative/file', message: /absolute/ }],
    [door('sequence = 1', 'frobnicate = 1'), { code: SYNTAX, line: 4, text: 'frobnicate = 1', message: /unknown key/ }],
    [door('sequence = 1', 'constructor = 1'), { code: SYNTAX, line: 4, text: 'constructor = 1', message: /unknown key/ }],
    [door('sequence = 1', '__proto__ = 1'), { code: SYNTAX, line: 4, text: '__proto__ = 1', message: /unknown key/ }],
    [door('sequence = 1', 'Key = ABCDEF'), { code: SYNTAX, line: 4, message: /TOTP/, text: 'Key = ABCDEF' }],
    [door('sequence = 1', 'seq timeout = 5'), { code: SYNTAX, line: 4, text: 'seq timeout = 5' }],
    [door('sequence = 1', 'LogFile = /x'), { code: SYNTAX, line: 4, text: 'LogFile = /x', message: /belongs in \[options\]/ }],
    [door('sequence = 1', 'sequence = 2'), { code: SYNTAX, line: 4, text: 'sequence = 2', message: /already set on line 3/ }],
    [conf('[d]', 'command = x', 'sequence = 1', 'start_command = y'), { code: SYNTAX, line: 4, text: 'start_command = y', message: /Start_Command already set on line 2/ }],
    [door('sequence = 1', 'tcpflags'), { code: SYNTAX, line: 4, text: 'tcpflags', message: /needs a value/ }],
    [door('sequence = 1', 'just some words'), { code: SYNTAX, line: 4, text: 'just some words', message: /key = value/ }],
    [door('sequence = 1', '= 5'), { code: SYNTAX, line: 4, text: '= 5', message: /missing key/ }],
    [door('sequence = 1', 'UseSyslog = yes'), { code: SYNTAX, line: 4, text: 'UseSyslog = yes', message: /flag/ }],
    [conf('[d]', 'sequence = 1', 'command = x', '[d]', 'sequence = 2', 'command = y'), { code: SYNTAX, line: 4, text: '[d]', message: /already defined on line 1/ }],
    [conf('[options]', '[options]'), { code: SYNTAX, line: 2, text: '[options]' }],
    [conf('[]'), { code: SYNTAX, line: 1, text: '[]', message: /empty section name/ }],
    [conf('[d', 'sequence = 1'), { code: SYNTAX, line: 1, text: '[d', message: /closing/ }],
    [conf('[a\u0001b]', 'sequence = 1', 'command = x'), { code: SYNTAX, line: 1, message: /control character/, text: 'a\\u0001b' }],
    [conf('[d]', 'sequence = 1', 'command = a\u0000b'), { code: SYNTAX, line: 3, text: 'command = a\\0b', message: /NUL/ }],
    [conf('[d]', 'command = x'), { code: INVALID, line: 1, text: '[d]', message: /no Sequence, One_Time_Sequences or Sequence_Secret/ }],
    [conf('[d]', 'sequence = 1'), { code: INVALID, line: 1, text: '[d]', message: /nothing to do/ }],
    [conf('[d]', 'sequence = 1', 'command =', 'stop_command = y'), { code: INVALID, line: 1, text: '[d]', message: /nothing to do/ }],
    [conf('[d]', 'sequence = 1', 'command = x', 'command_6 =', 'start_command_6 = y'), { code: SYNTAX, line: 5, text: 'start_command_6 = y' }],
    [conf('[options]', 'Sequence = 1'), { code: SYNTAX, line: 2, text: 'Sequence = 1', message: /door section/ }],
    [conf('[options]', 'Verbose = 1'), { code: SYNTAX, line: 2, text: 'Verbose = 1', message: /unknown key/ }],
    [conf('[options]', 'LogFile = knockd.log'), { code: INVALID, line: 2, text: 'knockd.log', message: /absolute/ }],
    [conf('[options]', 'PidFile ='), { code: INVALID, line: 2, text: '' }],
    [conf('[options]', 'Interface = eth0; reboot'), { code: INVALID, line: 2, text: 'eth0; reboot' }],
    [conf('[options]', 'Interface = averyveryverylongname'), { code: INVALID, line: 2, text: 'averyveryverylongname' }],
    [conf('[options]', 'Source = pcap'), { code: INVALID, line: 2, text: 'pcap', message: /nflog, kmsg, file/ }],
    [conf('[options]', 'Source = file'), { code: INVALID, line: 2, text: 'Source = file', message: /KernelLog/ }],
    [conf('[options]', 'NflogGroup = 65536'), { code: INVALID, line: 2, text: '65536' }],
    [conf('[options]', 'NflogGroup = -1'), { code: INVALID, line: 2, text: '-1' }],
    [conf('[options]', 'LogPrefix = "x" -j ACCEPT'), { code: INVALID, line: 2, text: '"x" -j ACCEPT' }],
    [conf('[options]', 'LogPrefix = thirty-characters-long-prefix!'), { code: INVALID, line: 2 }],
    [conf('[options]', 'StateDir = var/lib'), { code: INVALID, line: 2, text: 'var/lib' }],
    [conf('[options]', 'MaxAttempts = 0'), { code: INVALID, line: 2, text: '0' }],
    [conf('[options]', 'MaxAttempts = 1e6'), { code: INVALID, line: 2, text: '1e6' }],
    [conf('[options]', 'LogFile = /a', 'logfile = /b'), { code: SYNTAX, line: 3, text: 'logfile = /b' }],
  ];
  for (const [text, expected] of cases) {
    try {
      assertRefused(text, expected);
    } catch (error) {
      assert.fail(`${JSON.stringify(text)}: ${(error as Error).message}`);
    }
  }
});

test('all problems are reported at once, in file order, in one NfknockError', () => {
  const text = conf('[a]', 'sequence = 1,notaport', 'command = x', 'bogus', '[b]', 'sequence = 1', 'tcpflags = nope', 'command = y', 'x = 1');
  let caught: unknown;
  try {
    parseConfig(text, FILE);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof NfknockError);
  assert.ok(caught instanceof ConfigError);
  assert.equal(caught.code, INVALID);
  assert.deepEqual(caught.location, { file: FILE, line: 2, text: 'notaport' });
  assert.deepEqual(caught.problems.map((p) => p.line), [2, 4, 7, 9]);
  for (const p of caught.problems) assert.ok(caught.message.includes(`${FILE}:${p.line}: ${p.message}: ${JSON.stringify(p.text)}`), p.message);
});

test('a single problem describes itself as file:line: message: "text"', () => {
  try {
    parse('[d]', 'sequence = 70000', 'command = x');
    assert.fail('expected a refusal');
  } catch (error) {
    assert.ok(error instanceof NfknockError);
    assert.equal(error.describe(), `${FILE}:2: Sequence: bad port in knock sequence (1-65535 expected): "70000"`);
  }
});
