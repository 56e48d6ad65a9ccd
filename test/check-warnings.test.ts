import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkConfig, formatCheckReport, type ListeningFacts, type WarningCode } from '../src/check/check.js';
import { NfknockError } from '../src/core/errors.js';
import { TcpFlag, type Door } from '../src/core/types.js';
import { config, door, steps } from './helpers/doors.js';

const quiet: ListeningFacts = { listening: [] };
/** A door that draws no warning at all: the baseline each test changes one thing in. */
const good = (overrides: Partial<Door> = {}) =>
  door({
    steps: steps('7000', '9000', '8000'),
    tcpFlags: { required: TcpFlag.SYN, forbidden: TcpFlag.ACK },
    startCommand6: '/sbin/ip6tables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    stopCommand6: '/sbin/ip6tables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    ...overrides,
  });

/** Every free-text door lacks a kernel backstop; that warning has its own test below. */
function codes(doors: Door[], facts: ListeningFacts = quiet): WarningCode[] {
  return checkConfig(config(doors), facts).warnings.map((w) => w.code).filter((code) => code !== 'no-kernel-backstop');
}

test('a careful door draws no warning', () => {
  assert.deepEqual(codes([good()]), []);
});

test('a knock port that is also a listening service is flagged, for its protocol only', () => {
  assert.deepEqual(codes([good()], { listening: [{ protocol: 'tcp', port: 9000 }] }), ['knock-port-is-service']);
  assert.deepEqual(codes([good()], { listening: [{ protocol: 'udp', port: 9000 }] }), []);
  const timed = good({ steps: [], timeSequence: { length: 4, portMin: 40000, portMax: 41000, periodSeconds: 30, protocols: 'udp' } });
  assert.deepEqual(codes([timed], { listening: [{ protocol: 'udp', port: 40500 }] }), ['knock-port-is-service']);
  // Each knocked service once, in sequence order, however often the sequence knocks it.
  const twice = good({ steps: steps('9000', '7000', '9000', '8000:udp', '8000:udp') });
  const facts: ListeningFacts = { listening: [{ protocol: 'udp', port: 8000 }, { protocol: 'tcp', port: 9000 }, { protocol: 'tcp', port: 8000 }] };
  const messages = checkConfig(config([twice]), facts).warnings.filter((w) => w.code === 'knock-port-is-service').map((w) => w.message.split(' is ')[0]);
  assert.deepEqual(messages, ['knock port 9000/tcp', 'knock port 8000/udp']);
});

test('short, repeating and rising sequences are flagged', () => {
  assert.deepEqual(codes([good({ steps: steps('9000', '7000') })]), ['short-sequence']);
  assert.deepEqual(codes([good({ steps: steps('7000', '7000', '8000', '6000') })]), ['repeated-port']);
  assert.deepEqual(codes([good({ steps: steps('1000', '2000', '3000') })]), ['ascending-sequence']);
  assert.deepEqual(codes([good({ steps: steps('1000', '2000:udp', '3000') })]), [], 'mixed protocols: no single scan');
});

test('a door that nothing closes is a warning; one closed by another knock is a note', () => {
  const open = good({ stopCommand: undefined, startCommand: '/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT' });
  assert.deepEqual(codes([open]), ['appends-after-reject', 'no-close-path']);
  const close = good({ name: 'closeSSH', steps: steps('9000', '8000', '7000'), stopCommand: undefined, startCommand: '/sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT' });
  assert.deepEqual(codes([open, close]), ['appends-after-reject', 'closed-by-other-door']);
  const selfClosing = good({ stopCommand: undefined, startCommand: 'iptables -I INPUT -s %IP% -j ACCEPT; sleep 10; iptables -D INPUT -s %IP% -j ACCEPT' });
  assert.deepEqual(codes([selfClosing]), []);
  const expiring = good({ stopCommand: undefined, startCommand: 'nft add element inet filter allowed { %IP% timeout 30s }' });
  assert.deepEqual(codes([expiring]), []);
});

test('commands without %IP% open for everybody', () => {
  const w = checkConfig(config([good({ startCommand: 'iptables -I INPUT -p tcp --dport 22 -j ACCEPT', keyLines: { start_command: 7 } })]), quiet).warnings;
  assert.deepEqual(w.filter((x) => x.code !== 'no-kernel-backstop').map((x) => [x.code, x.line]), [['command-without-address', 7]]);
});

test('IPv6 knockers falling back to an iptables start command are noted', () => {
  assert.deepEqual(codes([good({ startCommand6: undefined, stopCommand6: undefined })]), ['ipv6-runs-iptables']);
  assert.deepEqual(codes([good({ startCommand6: undefined, stopCommand6: undefined, startCommand: 'ip6tables -I INPUT -s %IP% -j ACCEPT' })]), []);
});

test('doors sharing a first knock, or one sequence starting another, are flagged', () => {
  const a = good({ name: 'a', steps: steps('7000', '9000', '8000') });
  const b = good({ name: 'b', steps: steps('7000', '6000', '5000') });
  assert.deepEqual(codes([a, b]), ['shared-first-knock']);
  const longer = good({ name: 'c', steps: steps('7000', '9000', '8000', '6000') });
  assert.deepEqual(codes([a, longer]), ['sequence-prefix']);
  assert.match(checkConfig(config([a, longer]), quiet).warnings.find((w) => w.code === 'sequence-prefix')?.message ?? '', /knocking \[c\] opens \[a\] too/);
});

test('timeouts: a long seq_timeout and a door that closes before a client connects', () => {
  assert.deepEqual(codes([good({ seqTimeoutMs: 120_000, cmdTimeoutMs: 180_000 })]), ['seq-timeout-long']);
  assert.deepEqual(codes([good({ cmdTimeoutMs: 1000 })]), ['cmd-timeout-short']);
  assert.deepEqual(codes([good({ seqTimeoutMs: 30_000, cmdTimeoutMs: 10_000 })]), ['cmd-timeout-short']);
});

test('TCP doors without tcpflags and doors without a start command are reported', () => {
  assert.deepEqual(codes([good({ tcpFlags: { required: 0, forbidden: 0 } })]), ['any-tcp-flags']);
  assert.deepEqual(codes([good({ startCommand: undefined, stopCommand: undefined, startCommand6: undefined, stopCommand6: undefined })]), ['no-start-command']);
});

test('the report shows each door with commands for the example address, and warnings as file:line', () => {
  const d = good({ line: 3, keyLines: { sequence: 4 }, steps: steps('9000', '7000'), startCommand6: 'ip6tables -I INPUT -s %IP% -j ACCEPT', stopCommand6: undefined });
  const report = checkConfig(config([d]), quiet, '198.51.100.9');
  assert.deepEqual(report.doors[0]?.commands.map((c) => c.key), ['start_command', 'stop_command', 'start_command_6']);
  const text = formatCheckReport(report);
  assert.match(text, /^\/etc\/knockd\.conf: 1 door, 2 warnings, 0 notes$/m, 'short-sequence and no-kernel-backstop');
  assert.match(text, /^ {2}sequence {5}9000\/tcp 7000\/tcp$/m);
  assert.match(text, /^ {2}tcpflags {5}syn,!ack$/m);
  assert.match(text, /start_command +\/sbin\/iptables -I INPUT -s 198\.51\.100\.9 -p tcp --dport 22 -j ACCEPT/);
  assert.match(text, /start_command_6 +ip6tables -I INPUT -s 2001:db8::7 -j ACCEPT/);
  assert.match(text, /^\/etc\/knockd\.conf:4: warning: \[openSSH\] the sequence has 2 knocks.*\(short-sequence\)$/m);
});

test('a bad example address is a usage error, not a shell injection', () => {
  assert.throws(() => checkConfig(config([good()]), quiet, '1.2.3.4; rm -rf /'), (e: unknown) => e instanceof NfknockError && e.code === 'NFK_USAGE');
});

test('a door whose opening nothing in the kernel expires is warned about, with the Open = line that would replace it', () => {
  const [warning, ...others] = checkConfig(config([good()]), quiet).warnings;
  assert.deepEqual(others, []);
  assert.equal(warning?.code, 'no-kernel-backstop');
  assert.match(warning?.message ?? '', /stays open if nfknockd stops before its stop command; "Open = 22:tcp" \(with cmd_timeout\) would replace its commands/);
  const backstop = (overrides: Partial<Door>) => checkConfig(config([good(overrides)]), quiet).warnings.filter((w) => w.code === 'no-kernel-backstop').map((w) => /"(Open = [^"]*)"/.exec(w.message)?.[1]);
  assert.deepEqual(backstop({ open: { firewall: 'nft', ports: [{ protocol: 'tcp', from: 22, to: 22 }] } }), []);
  assert.deepEqual(backstop({ startCommand: 'nft add element inet nfknock open4 { %IP% . tcp . 22 timeout %TIMEOUT%s }', startCommand6: undefined }), []);
  assert.deepEqual(backstop({ startCommand: 'ipset add knock %IP%,udp:53 timeout 30', startCommand6: undefined }), []);
  assert.deepEqual(backstop({ startCommand: 'iptables -I INPUT -s %IP% -p udp -m multiport --dports 60000:61000,53 -j ACCEPT' }), ['Open = 60000-61000:udp, 53:udp, 22:tcp']);
  assert.deepEqual(backstop({ startCommand: 'nft add element inet nfknock open4 { %IP% . tcp . 2222 }', startCommand6: undefined }), ['Open = 2222:tcp']);
  assert.deepEqual(backstop({ startCommand: '/usr/local/bin/open-the-door %IP%', startCommand6: undefined }), ['Open = PORT:tcp']);
});

test('an Open door needs no start command, is checked for a short cmd_timeout, and the report shows what it opens', () => {
  const open = good({ startCommand: undefined, stopCommand: undefined, startCommand6: undefined, stopCommand6: undefined, open: { firewall: 'ipset', ports: [{ protocol: 'udp', from: 60000, to: 61000 }] } });
  assert.deepEqual(checkConfig(config([open]), quiet).warnings.map((w) => w.code), []);
  assert.deepEqual(codes([{ ...open, cmdTimeoutMs: 1000 }]), ['cmd-timeout-short']);
  assert.match(formatCheckReport(checkConfig(config([open]), quiet)), /^ {2}open {9}60000-61000\/udp for the knocker, in ipset nfknock-open4\/nfknock-open6, for cmd_timeout/m);
});

test('%TIMEOUT% shows as cmd_timeout in seconds in the report', () => {
  const d = good({ cmdTimeoutMs: 30_000, startCommand: 'nft add element inet nfknock open4 { %IP% . tcp . 22 timeout %TIMEOUT%s }' });
  assert.equal(checkConfig(config([d]), quiet).doors[0]?.commands[0]?.example, 'nft add element inet nfknock open4 { 203.0.113.7 . tcp . 22 timeout 30s }');
});
