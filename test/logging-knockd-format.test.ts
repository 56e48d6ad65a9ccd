import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  closingDoorMessage,
  commandFailedMessage,
  commandKilledMessage,
  commandOvertimeMessage,
  commandTimeoutMessage,
  escapeControlCharacters,
  fixedUtcOffset,
  formatLogTimestamp,
  logFileLine,
  noMoreOneTimeSequencesMessage,
  openSesameMessage,
  reloadMessage,
  runningCommandMessage,
  sequenceBrokenMessage,
  sequenceTimeoutMessage,
  shutdownMessage,
  stageMessage,
  startupMessage,
  suppressedLinesMessage,
  syslogMessage,
} from '../src/logging/knockd-format.js';

/**
 * Captured verbatim from Debian's knockd 0.8-2+b4 (`knockd -c knockd.conf -v -D`, LogFile set, TZ=UTC) in a
 * pair of network namespaces, knocked with `knock` over IPv4 and IPv6, then SIGHUP and SIGTERM. Config:
 * openSSH = 7000,8000,9000 tcpflags=syn, start `/bin/echo start %IP%`, cmd_timeout 2, stop
 * `/bin/sh -c 'exit 3'`; udpDoor = 7100:udp,7200:udp, command `/bin/true %IP%`.
 * knockd's empty lines (its format strings end in "\n") are dropped on purpose, see knockd-format.ts;
 * every other byte must match.
 */
const KNOCKD_0_8_LOGFILE = `[2026-11-22 10:35] starting up, listening on vg0
[2026-11-22 10:35] 10.77.0.2: openSSH: Stage 1
[2026-11-22 10:35] 10.77.0.2: openSSH: Stage 2
[2026-11-22 10:35] 10.77.0.2: openSSH: Stage 3
[2026-11-22 10:35] 10.77.0.2: openSSH: OPEN SESAME
[2026-11-22 10:35] openSSH: running command: /bin/echo start 10.77.0.2

[2026-11-22 10:35] 10.77.0.2: udpDoor: Stage 1
[2026-11-22 10:35] 10.77.0.2: udpDoor: Stage 2
[2026-11-22 10:35] 10.77.0.2: udpDoor: OPEN SESAME
[2026-11-22 10:35] udpDoor: running command: /bin/true 10.77.0.2

[2026-11-22 10:35] 10.77.0.2: openSSH: Stage 1
[2026-11-22 10:35] 10.77.0.2: openSSH: command timeout
[2026-11-22 10:35] openSSH: running command: /bin/sh -c 'exit 3'

[2026-11-22 10:35] openSSH: command returned non-zero status code (3)
[2026-11-22 10:35] 10.77.0.2: openSSH: sequence timeout (stage 1)

[2026-11-22 10:35] 10.77.0.2: openSSH: Stage 1
[2026-11-22 10:35] fd77::2: openSSH: Stage 1
[2026-11-22 10:35] fd77::2: openSSH: Stage 2
[2026-11-22 10:35] fd77::2: openSSH: Stage 3
[2026-11-22 10:35] fd77::2: openSSH: OPEN SESAME
[2026-11-22 10:35] openSSH: running command: /bin/echo start fd77::2

[2026-11-22 10:35] fd77::2: openSSH: command timeout
[2026-11-22 10:35] openSSH: running command: /bin/sh -c 'exit 3'

[2026-11-22 10:35] openSSH: command returned non-zero status code (3)
[2026-11-22 10:35] re-reading config file: knockd.conf

[2026-11-22 10:35] shutting down
`;

const AT = Date.UTC(2026, 10, 22, 10, 35, 42);
const UTC = fixedUtcOffset(0);

test('the lines nfknock writes are byte-identical to the ones knockd 0.8 wrote', () => {
  const v4 = '10.77.0.2';
  const v6 = 'fd77::2';
  const messages = [
    startupMessage('vg0'),
    stageMessage(v4, 'openSSH', 1),
    stageMessage(v4, 'openSSH', 2),
    stageMessage(v4, 'openSSH', 3),
    openSesameMessage(v4, 'openSSH'),
    runningCommandMessage('openSSH', `/bin/echo start ${v4}`),
    stageMessage(v4, 'udpDoor', 1),
    stageMessage(v4, 'udpDoor', 2),
    openSesameMessage(v4, 'udpDoor'),
    runningCommandMessage('udpDoor', `/bin/true ${v4}`),
    stageMessage(v4, 'openSSH', 1),
    commandTimeoutMessage(v4, 'openSSH'),
    runningCommandMessage('openSSH', "/bin/sh -c 'exit 3'"),
    commandFailedMessage('openSSH', 3),
    sequenceTimeoutMessage(v4, 'openSSH', 1),
    stageMessage(v4, 'openSSH', 1),
    stageMessage(v6, 'openSSH', 1),
    stageMessage(v6, 'openSSH', 2),
    stageMessage(v6, 'openSSH', 3),
    openSesameMessage(v6, 'openSSH'),
    runningCommandMessage('openSSH', `/bin/echo start ${v6}`),
    commandTimeoutMessage(v6, 'openSSH'),
    runningCommandMessage('openSSH', "/bin/sh -c 'exit 3'"),
    commandFailedMessage('openSSH', 3),
    reloadMessage('knockd.conf'),
    shutdownMessage(),
  ];
  const knockdWithoutEmptyLines = KNOCKD_0_8_LOGFILE.split('\n').filter((line) => line !== '').map((line) => `${line}\n`);
  assert.deepEqual(
    messages.map((m) => logFileLine(AT, UTC, m)),
    knockdWithoutEmptyLines,
  );
});

test('the timestamp is local time at minute resolution, shifted by the offset in force', () => {
  assert.equal(formatLogTimestamp(AT, UTC), '2026-11-22 10:35');
  assert.equal(formatLogTimestamp(AT, fixedUtcOffset(60)), '2026-11-22 11:35');
  assert.equal(formatLogTimestamp(AT, fixedUtcOffset(-11 * 60)), '2026-11-21 23:35');
  assert.equal(formatLogTimestamp(Date.UTC(2026, 11, 31, 23, 59, 59, 999), fixedUtcOffset(330)), '2027-01-01 05:29');
  // The offset is asked for the instant being formatted (DST changes it).
  const seen: number[] = [];
  formatLogTimestamp(AT, (ms) => {
    seen.push(ms);
    return 0;
  });
  assert.deepEqual(seen, [AT]);
});

test('timestamps always have the [YYYY-MM-DD HH:MM] shape and agree with Date', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 253_402_200_000_000 }) /* before year 10000 in every zone */, fc.integer({ min: -720, max: 840 }), (ms, offset) => {
      const stamp = formatLogTimestamp(ms, fixedUtcOffset(offset));
      assert.match(stamp, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
      const shifted = new Date(ms + offset * 60_000).toISOString();
      assert.equal(stamp, `${shifted.slice(0, 10)} ${shifted.slice(11, 16)}`);
    }),
  );
});

test('lines knockd never wrote keep the "source: door: text" shape', () => {
  assert.equal(sequenceBrokenMessage('10.0.0.2', 'openSSH', 2), '10.0.0.2: openSSH: sequence broken (stage 2)');
  assert.equal(
    sequenceBrokenMessage('10.0.0.2', 'openSSH', 1, { port: 1234, protocol: 'udp' }),
    '10.0.0.2: openSSH: sequence broken (stage 1, got 1234:udp)',
  );
  assert.equal(commandKilledMessage('fd00::2', 'web', 'SIGKILL'), 'fd00::2: web: command killed by signal SIGKILL');
  assert.equal(commandOvertimeMessage('10.0.0.2', 'web', 30_000), '10.0.0.2: web: command still running after 30 s, killed');
  assert.equal(commandOvertimeMessage('10.0.0.2', 'web', 1500), '10.0.0.2: web: command still running after 1.5 s, killed');
  assert.equal(closingDoorMessage('10.0.0.2', 'openSSH'), '10.0.0.2: openSSH: closing door');
  assert.equal(suppressedLinesMessage(1520, 'stage', 10_000), 'suppressed 1520 stage lines in the last 10 s');
  assert.equal(
    noMoreOneTimeSequencesMessage('otp'),
    'no more sequences left in the one time sequences file for door otp --> disabling the door',
  );
});

test('a control character in a door name or command cannot forge a second log line', () => {
  const line = logFileLine(AT, UTC, runningCommandMessage('evil\n[2026-01-01 00:00] 1.2.3.4: x: OPEN SESAME', 'a\rb\tc'));
  assert.equal(line.split('\n').length, 2);
  assert.ok(line.endsWith('\n'));
  assert.match(line, /evil\\x0a\[2026/);
  assert.equal(syslogMessage('a\nb\u007f'), 'a\\x0ab\\x7f');
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (text) => {
      const escaped = escapeControlCharacters(text);
      assert.doesNotMatch(escaped, /[\u0000-\u001f\u007f]/);
      assert.equal(logFileLine(0, UTC, text).indexOf('\n'), logFileLine(0, UTC, text).length - 1);
    }),
  );
});
