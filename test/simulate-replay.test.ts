import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import type { Config, KnockEvent } from '../src/core/types.js';
import { parseConfig } from '../src/config/parse.js';
import { Matcher } from '../src/matcher/matcher.js';
import { SequenceBook } from '../src/matcher/sequences.js';
import { decodeInputLine } from '../src/simulate/input.js';
import { referenceForYear, simulate, type SimulateOptions, type SimulatedEvent, type SimulationReport } from '../src/simulate/simulate.js';
import { formatReport } from '../src/simulate/format.js';
import { timeSequenceDeriver } from '../src/timeseq/deriver.js';
import { deriveSequence, timeStepAt } from '../src/timeseq/derive.js';
import { realKmsgRecords, realLines, realSyslogLines } from './helpers/logline-fixtures.js';
import { dmesgRawLine, kmsgLine, rfc3339Line, traditionalLine, netfilterMessage, type KnockSpec } from './fixtures/simulate/lines.js';

const FIXTURES = new URL('../../test/fixtures/simulate/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8').split('\n').slice(0, -1);
const fixtureConfig = (): Config => parseConfig(readFileSync(new URL('knockd.conf', FIXTURES), 'utf8'), 'knockd.conf');

const T0 = Date.UTC(2026, 10, 21, 23, 14, 2, 101);
const base: SimulateOptions = { reference: Date.UTC(2026, 10, 22), utcOffsetAt: () => 0, deriver: timeSequenceDeriver };
const ssh = (verb: 'I' | 'D') => `/sbin/iptables -${verb} INPUT -s 203.0.113.7 -p tcp --dport 22 -j ACCEPT`;

/** `kind door source @ms-after-T0 [line]`: compact enough to state a whole replay exactly. */
function brief(report: SimulationReport, origin = T0): string[] {
  return report.events.map((e: SimulatedEvent) => {
    const detail =
      e.kind === 'stage' || e.kind === 'timeout' ? ` ${e.stage}` : e.kind === 'broken' ? ` ${e.stage} by ${e.port}/${e.protocol}` : e.kind === 'open' ? ` ${e.effect} ${e.sequence}` : '';
    const where = e.line !== undefined ? ` L${e.line}` : e.afterInput ? ' end' : '';
    return `${e.kind}${detail} ${e.door} ${e.source} @${e.at - origin}${where}`;
  });
}

test('an rsyslog RFC 3339 log replays exactly: stages, open, extension by a re-knock, close at the new deadline, broken', () => {
  const report = simulate(fixture('rfc3339.log'), fixtureConfig(), base);
  assert.deepEqual(brief(report), [
    'stage 1 openSSH 203.0.113.7 @0 L1',
    'stage 2 openSSH 203.0.113.7 @301 L2',
    'open start fixed openSSH 203.0.113.7 @602 L3',
    'stage 1 openSSH 203.0.113.7 @7399 L5',
    'stage 2 openSSH 203.0.113.7 @7699 L6',
    'open extend fixed openSSH 203.0.113.7 @7999 L7',
    // Closed at the extended deadline (knock + Cmd_Timeout 10 s), long before the next line.
    'close openSSH 203.0.113.7 @17999',
    'stage 1 openSSH 203.0.113.7 @957899 L8',
    'broken 1 by 1234/tcp openSSH 203.0.113.7 @958899 L9',
  ]);
  const [first, second] = report.opens;
  assert.equal(first?.startCommand, ssh('I'));
  assert.equal(first?.stopCommand, ssh('D'));
  assert.equal(first?.closesAt, T0 + 602 + 10_000);
  assert.equal(second?.startCommand, undefined, 'an extension runs nothing');
  assert.equal(second?.previousClosesAt, T0 + 602 + 10_000);
  assert.equal(second?.closesAt, T0 + 7999 + 10_000);
  assert.deepEqual(report.skipped, { 'prefix-mismatch': 1, 'not-kernel': 1, 'unrecognised-format': 1 });
  assert.equal(report.lines, 11);
  assert.equal(report.knocks, 8);
  assert.deepEqual(report.formats, { 'syslog-rfc3339': 8 });
  assert.ok(report.warnings.some((w) => w.includes('logger -t kernel') && w.includes('general log')));
});

test('every input format gives the same open of the same door for the same source', () => {
  const expectations: [string, Partial<SimulateOptions>, number, string][] = [
    ['traditional.log', {}, Date.UTC(2026, 10, 21, 23, 14, 3), 'syslog-traditional'],
    ['journalctl-short-iso-precise.log', {}, T0 + 602, 'syslog-rfc3339'],
    ['dmesg-ctime.log', {}, Date.UTC(2026, 10, 21, 23, 14, 3), 'dmesg-ctime'],
    ['kmsg.log', {}, 8_042_704, 'kmsg'],
    ['dmesg-raw.log', {}, 8_042_704, 'dmesg-raw'],
    ['dmesg.log', {}, 8_042_704, 'dmesg'],
    ['kmsg.log', { bootTimeMs: Date.UTC(2026, 10, 21, 21) }, Date.UTC(2026, 10, 21, 21) + 8_042_704, 'kmsg'],
  ];
  for (const [file, extra, openAt, format] of expectations) {
    const report = simulate(fixture(file), fixtureConfig(), { ...base, ...extra });
    assert.deepEqual(
      report.opens.map((o) => [o.door, o.source, o.at, o.effect]),
      [['openSSH', '203.0.113.7', openAt, 'start']],
      file,
    );
    assert.deepEqual(Object.keys(report.formats), [format], file);
    const close = report.events.find((e) => e.kind === 'close');
    assert.equal(close?.at, openAt + 10_000, `${file}: closes Cmd_Timeout after the open`);
    assert.equal(close?.afterInput, true, file);
    assert.equal(report.clock, 'bootTimeMs' in extra || !/kmsg|dmesg\.log|dmesg-raw/.test(file) ? 'wall' : 'boot', file);
  }
});

test('kmsg and dmesg -r lines written by userspace are not knocks; their kernel lines are trusted', () => {
  const kmsg = simulate(fixture('kmsg.log'), fixtureConfig(), base);
  assert.deepEqual(kmsg.skipped, { 'kmsg-dictionary-line': 1, 'not-kernel': 1, 'prefix-mismatch': 1 });
  assert.ok(!kmsg.warnings.some((w) => w.includes('logger')), 'kmsg proves kernel origin');
  assert.ok(kmsg.warnings.some((w) => w.includes('--boot-time')));
  const raw = simulate(fixture('dmesg-raw.log'), fixtureConfig(), base);
  assert.deepEqual(raw.skipped, { 'not-kernel': 1 });
  const plain = simulate(fixture('dmesg.log'), fixtureConfig(), base);
  assert.ok(plain.warnings.some((w) => w.includes('logger -t kernel')), 'plain dmesg cannot tell');
  const dedicated = simulate(fixture('journalctl-short-iso-precise.log'), fixtureConfig(), { ...base, dedicatedKernelLog: true });
  assert.ok(!dedicated.warnings.some((w) => w.includes('logger')));
});

test('the real lines of the logline fixtures decode in every wrapper', () => {
  const context = { prefix: 'portknock', reference: Date.UTC(2026, 10, 22), utcOffsetAt: () => 0 };
  const kernel = decodeInputLine(realKmsgRecords.kernelLog.trimEnd(), context);
  assert.ok(kernel.ok && kernel.event.port === 7000 && kernel.clock === 'boot' && kernel.event.at === 399_496 && kernel.kernelVerified);
  const forged = decodeInputLine(realKmsgRecords.userspaceClaimsEmergKernel.trimEnd(), context);
  assert.deepEqual(forged, { ok: false, reason: 'not-kernel', format: 'kmsg' });
  const precise = decodeInputLine(realSyslogLines.precise, context);
  assert.ok(precise.ok && precise.event.port === 7010 && precise.event.protocol === 'udp' && precise.event.at === Date.parse('2026-11-22T10:39:52.036Z'));
  const traditional = decodeInputLine(realSyslogLines.traditionalWithUptime, context);
  assert.ok(traditional.ok && traditional.format === 'syslog-traditional' && traditional.event.at === Date.parse('2026-11-22T10:09:01Z'));
  const loggerForged = decodeInputLine(realSyslogLines.loggerForged, context);
  assert.equal(loggerForged.ok, false, 'the forged line is incomplete and rejected');
  const v6 = decodeInputLine(`<4>[  398.388585] ${realLines.tcp6}`, context);
  assert.ok(v6.ok && v6.event.source === 'fd00:77::2' && v6.event.family === 6);
  const icmp = decodeInputLine(`[  398.388585] ${realLines.icmpEcho}`, context);
  assert.deepEqual(icmp, { ok: false, reason: 'icmp', format: 'dmesg' });
});

test('an unfinished sequence times out on the tick after seq_timeout, also after the last line', () => {
  const at = T0 - 101 + 250; // xx:02.250
  const lines = [rfc3339Line({ source: '198.51.100.9', port: 7000, at }), rfc3339Line({ source: '198.51.100.9', port: 8000, at: at + 1000 })];
  const report = simulate(lines, fixtureConfig(), base);
  assert.deepEqual(brief(report, at), [
    'stage 1 openSSH 198.51.100.9 @0 L1',
    'stage 2 openSSH 198.51.100.9 @1000 L2',
    // seq_timeout 5 s runs from the first knock (02.250 -> 07.250); the daemon's 1 s tick sees it at 08.000.
    'timeout 2 openSSH 198.51.100.9 @5750 end',
  ]);
  // A knock after the timeout starts over: the expiry is reported at the tick, before that knock.
  const later = [...lines, rfc3339Line({ source: '198.51.100.9', port: 9000, at: at + 60_000 })];
  const replay = simulate(later, fixtureConfig(), base);
  assert.deepEqual(brief(replay, at).slice(2), ['timeout 2 openSSH 198.51.100.9 @5750']);
  assert.equal(replay.opens.length, 0);
});

test('TCPFlags: a knock without SYN is ignored by a door that needs syn; UDP doors open with any source family', () => {
  const lines = [
    rfc3339Line({ source: '203.0.113.7', port: 7000, at: T0 }),
    rfc3339Line({ source: '203.0.113.7', port: 8000, flags: 'ACK', at: T0 + 100 }),
    rfc3339Line({ source: '203.0.113.7', port: 8000, at: T0 + 200 }),
    rfc3339Line({ source: '203.0.113.7', port: 9000, at: T0 + 300 }),
    rfc3339Line({ source: '2001:db8::7', port: 12345, protocol: 'udp', at: T0 + 400 }),
    rfc3339Line({ source: '2001:db8::7', port: 54321, protocol: 'udp', at: T0 + 500 }),
  ];
  const report = simulate(lines, fixtureConfig(), base);
  assert.deepEqual(
    report.opens.map((o) => [o.door, o.source, o.at - T0, o.startCommand, o.stopCommand]),
    [
      ['openSSH', '203.0.113.7', 300, ssh('I'), ssh('D')],
      // No stop command: nothing would close it, and the report says so.
      ['openHTTPS', '2001:db8::7', 500, '/usr/local/sbin/knock_add -i -c INPUT -p tcp -d 443 -f 2001:db8::7', undefined],
    ],
  );
  assert.match(formatReport(report), /no stop command: nothing closes this door/);
});

test('one-time doors consume lines in memory only; a used line does not open again', () => {
  const config = parseConfig('[mail]\n one_time_sequences = /etc/knockd/mail.seq\n start_command = open %IP%\n cmd_timeout = 5\n stop_command = close %IP%\n', 'k.conf');
  const lines = [
    { line: 2, steps: [{ port: 2000, protocol: 'tcp' as const }, { port: 3000, protocol: 'tcp' as const }] },
    { line: 3, steps: [{ port: 4000, protocol: 'tcp' as const }, { port: 5000, protocol: 'tcp' as const }] },
  ];
  const knocks = [2000, 3000, 2000, 3000, 4000, 5000].map((port, i) => rfc3339Line({ source: '203.0.113.7', port, at: T0 + i * 100 }));
  const options = { ...base, oneTimeLines: new Map([['mail', lines]]) };
  const report = simulate(knocks, config, options);
  assert.deepEqual(
    report.opens.map((o) => [o.sequence, o.at - T0, o.effect]),
    [
      ['line:2', 100, 'start'],
      ['line:3', 500, 'extend'],
    ],
  );
  assert.equal(lines.length, 2, 'the caller\'s lines are not consumed');
  const none = simulate(knocks, config, { ...base, oneTimeLines: new Map([['mail', []]]) });
  assert.equal(none.opens.length, 0);
  assert.ok(none.warnings.some((w) => w.includes('one-time door mail')));
});

test('time-based doors open with the sequence of the knock\'s time step, once per step', () => {
  const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
  const config = parseConfig(
    `[rotating]\n sequence_secret = ${secret}\n sequence_ports = 20000-29999\n sequence_length = 3\n sequence_period = 30\n start_command = open %IP%\n cmd_timeout = 60\n stop_command = close %IP%\n`,
    'k.conf',
  );
  const door = config.doors[0]!;
  const at = Date.UTC(2026, 10, 21, 23, 14, 31);
  const step = timeStepAt(at, 30);
  const sequence = deriveSequence({ ...door.timeSequence!, secret: door.timeSequence!.secret! }, 'rotating', step);
  const knockAll = (from: number, source: string) => sequence.map((s, i) => rfc3339Line({ source, port: s.port, at: from + i * 200 }));
  const lines = [...knockAll(at, '203.0.113.7'), ...knockAll(at + 5000, '198.51.100.9')];
  const report = simulate(lines, config, base);
  assert.deepEqual(
    report.events.filter((e) => e.kind === 'open' || e.kind === 'replay').map((e) => [e.kind, e.source, e.kind === 'open' || e.kind === 'replay' ? e.sequence : '']),
    [
      ['open', '203.0.113.7', `step:${step}`],
      ['replay', '198.51.100.9', `step:${step}`],
    ],
  );
  // On since-boot times the step cannot be known: nothing opens, and the report says why.
  const boot = simulate(sequence.map((s, i) => kmsgLine({ source: '203.0.113.7', port: s.port, at: 1000 + i })), config, base);
  assert.equal(boot.opens.length, 0);
  assert.ok(boot.warnings.some((w) => w.includes('rotating') && w.includes('--boot-time')));
});

test('every non-knock line is counted by reason, and listed with its number when kept', () => {
  const lines = [
    '',
    'random words',
    '2026-11-21T23:14:02.000000+00:00 gate sshd[1]: Accepted publickey',
    rfc3339Line({ source: '203.0.113.7', port: 7000, at: T0, prefix: 'otherprefix ' }),
    rfc3339Line({ source: '203.0.113.7', port: 7000, at: T0, inInterface: 'eth0' }),
    `2026-11-21T23:14:02.000000+00:00 gate kernel: ${netfilterMessage({ source: '203.0.113.7', port: 7000, at: 0 }).split(' URGP=')[0]}`,
    kmsgLine({ source: '203.0.113.7', port: 7000, at: 5 }),
  ];
  const report = simulate(lines, fixtureConfig(), { ...base, keepSkippedLines: true });
  assert.deepEqual(report.skipped, {
    'empty-line': 1,
    'unrecognised-format': 1,
    'not-kernel': 1,
    'prefix-mismatch': 1,
    'incomplete:URGP': 1,
    'boot-clock-among-wall-clock-lines': 1,
  });
  assert.deepEqual(
    report.skippedLines.map((s) => [s.line, s.reason]),
    [
      [1, 'empty-line'],
      [2, 'unrecognised-format'],
      [3, 'not-kernel'],
      [4, 'prefix-mismatch'],
      [6, 'incomplete:URGP'],
      [7, 'boot-clock-among-wall-clock-lines'],
    ],
  );
  const text = formatReport(report, { verbose: true });
  assert.match(text, /7 line\(s\) read, 1 knock line\(s\)/);
  assert.match(text, /line 4: prefix-mismatch: /);
  assert.match(text, /6 line\(s\) were not knocks/);
  const json = JSON.parse(formatReport(report, { json: true })) as SimulationReport;
  assert.equal(json.skippedLines, undefined, 'JSON lists skipped lines only with --verbose');
  assert.deepEqual(json.skipped, report.skipped);
  // The config's Interface filters knocks as the daemon does.
  const config = fixtureConfig();
  config.options.interface = 'wan0';
  assert.deepEqual(simulate(lines, config, base).skipped['wrong-interface'], 2, 'the two eth0 knocks');
});

test('stamps without a year take the year closest to the reference and roll over at New Year', () => {
  const lines = [
    traditionalLine({ source: '203.0.113.7', port: 7000, at: Date.UTC(2025, 11, 31, 23, 59, 58) }),
    traditionalLine({ source: '203.0.113.7', port: 8000, at: Date.UTC(2025, 11, 31, 23, 59, 59) }),
    traditionalLine({ source: '203.0.113.7', port: 9000, at: Date.UTC(2026, 0, 1, 0, 0, 1) }),
  ];
  const report = simulate(lines, fixtureConfig(), { ...base, reference: referenceForYear(2025) });
  assert.deepEqual(report.opens.map((o) => o.at), [Date.UTC(2026, 0, 1, 0, 0, 1)]);
  const shifted = simulate(lines, fixtureConfig(), { ...base, reference: referenceForYear(2025), utcOffsetAt: () => 60 });
  assert.deepEqual(shifted.opens.map((o) => o.at), [Date.UTC(2025, 11, 31, 23, 0, 1)], 'local time UTC+1');
});

test('a line stamped earlier than the previous one counts as happening then, with a warning', () => {
  const lines = [
    kmsgLine({ source: '203.0.113.7', port: 7000, at: 100_000 }, 1),
    kmsgLine({ source: '203.0.113.7', port: 8000, at: 103_000 }, 2),
    kmsgLine({ source: '203.0.113.7', port: 9000, at: 40_000 }, 3),
  ];
  const report = simulate(lines, fixtureConfig(), base);
  assert.deepEqual(report.opens.map((o) => o.at - 100_000), [3000]);
  assert.ok(report.warnings.some((w) => w.includes('63.000 s before')));
});

test('a precise syslog line stamped well before the newest is a replay, refused as the daemon refuses it', () => {
  const lines = [
    rfc3339Line({ source: '203.0.113.7', port: 7000, at: T0 }),
    rfc3339Line({ source: '203.0.113.7', port: 8000, at: T0 + 3000 }),
    rfc3339Line({ source: '203.0.113.7', port: 9000, at: T0 - 60_000 }),
  ];
  const report = simulate(lines, fixtureConfig(), base);
  assert.deepEqual(report.opens, []);
  assert.equal(report.skipped['replayed'], 1);
});

const sources = ['203.0.113.7', '203.0.113.8', '2001:db8::9'];
const ports = [7000, 8000, 9000, 1234];
const knockArbitrary = fc.record({
  source: fc.constantFrom(...sources),
  port: fc.constantFrom(...ports),
  flags: fc.constantFrom('SYN', 'SYN', 'SYN', 'ACK'),
  gap: fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 30_000 })),
  format: fc.constantFrom('rfc3339', 'kmsg', 'dmesg-raw'),
});
/** A whole sequence from one source, some of it interleaved with stray knocks: most runs then open something. */
const burstArbitrary = fc
  .tuple(fc.constantFrom(...sources), fc.array(knockArbitrary, { maxLength: 2 }), fc.constantFrom('rfc3339', 'kmsg', 'dmesg-raw'), fc.integer({ min: 0, max: 3000 }))
  .map(([source, strays, format, gap]) => {
    const own = [7000, 8000, 9000].map((port) => ({ source, port, flags: 'SYN', gap, format }));
    return [own[0]!, ...strays, own[1]!, own[2]!];
  });
const runArbitrary = fc.array(fc.oneof(knockArbitrary.map((k) => [k]), burstArbitrary), { maxLength: 20 }).map((groups) => groups.flat());

test('property: simulate opens exactly what the Matcher opens when fed the same events directly', () => {
  const boot = Date.UTC(2026, 10, 21, 20);
  let runsWithOpens = 0;
  fc.assert(
    fc.property(runArbitrary, (knocks) => {
      let at = T0;
      const lines: string[] = [];
      const events: KnockEvent[] = [];
      for (const [index, k] of knocks.entries()) {
        at += k.gap;
        // Every knock is its own packet (its own IP ID), as on the wire: the replay guard must not take it for a copy.
        const spec: KnockSpec = { source: k.source, port: k.port, flags: k.flags, at, id: index + 1 };
        const sinceBoot = { ...spec, at: at - boot };
        lines.push(k.format === 'rfc3339' ? rfc3339Line(spec) : k.format === 'kmsg' ? kmsgLine(sinceBoot) : dmesgRawLine(sinceBoot));
        const family = k.source.includes(':') ? 6 : 4;
        events.push({ source: k.source, family, destination: family === 6 ? '2001:db8::1' : '192.0.2.1', protocol: 'tcp', port: k.port, tcpFlags: k.flags === 'SYN' ? 2 : 16, inInterface: 'eth0', at });
      }
      const config = fixtureConfig();
      const direct: string[] = [];
      const matcher = new Matcher(config.doors, {
        maxAttempts: 100,
        sequences: new SequenceBook(timeSequenceDeriver),
        onAction: (a) => {
          if (a.kind === 'open') direct.push(`${a.door.name} ${a.source} ${a.at}`);
        },
      });
      for (const event of events) matcher.feed(event);
      if (direct.length > 0) runsWithOpens++;
      const report = simulate(lines, config, { ...base, bootTimeMs: boot });
      assert.equal(report.knocks, knocks.length);
      assert.deepEqual(
        report.opens.map((o) => `${o.door} ${o.source} ${o.at}`),
        direct,
      );
    }),
    { numRuns: 300 },
  );
  assert.ok(runsWithOpens > 100, `only ${runsWithOpens} of 300 runs opened a door: the property would say little`);
});
