import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseSyslogLine } from '../src/decode/syslog.js';
import { realLines, realSyslogLines } from './helpers/logline-fixtures.js';

const NOW = Date.UTC(2026, 10, 22, 10, 10, 0);

describe('parseSyslogLine', () => {
  it('reads an RFC 3339 high-precision line from the dedicated file', () => {
    const parsed = parseSyslogLine(realSyslogLines.precise, NOW);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.timestamp, Date.UTC(2026, 10, 22, 10, 39, 52, 36));
    assert.equal(parsed.value.precise, true);
    assert.equal(parsed.value.host, 'vm');
    assert.ok(parsed.value.message.startsWith('portknock IN=lo OUT= '));
  });

  it('reads a traditional line and drops the [ uptime] stamp', () => {
    const parsed = parseSyslogLine(realSyslogLines.traditionalWithUptime, NOW);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.timestamp, Date.UTC(2026, 10, 22, 10, 9, 1));
    assert.equal(parsed.value.precise, false);
    assert.equal(parsed.value.message, realLines.tcpSynColonSpace);
  });

  it('reads lines without the uptime stamp, with zones and with a space-padded day', () => {
    const a = parseSyslogLine('2026-11-22T11:09:01.5+01:00 host kernel: portknock IN=x', NOW);
    assert.ok(a.ok);
    assert.equal(a.value.timestamp, Date.UTC(2026, 10, 22, 10, 9, 1, 500));
    assert.equal(a.value.message, 'portknock IN=x');
    const b = parseSyslogLine('Nov  2 10:09:01 host kernel: portknock IN=x', NOW);
    assert.ok(b.ok);
    assert.equal(b.value.timestamp, Date.UTC(2026, 10, 2, 10, 9, 1));
    const c = parseSyslogLine('2026-11-22T10:09:01Z host kernel: x', NOW);
    assert.ok(c.ok);
    assert.equal(c.value.precise, false);
  });

  it('applies the local offset to traditional stamps', () => {
    const parsed = parseSyslogLine('Nov 22 12:09:01 host kernel: x', NOW, 120);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.timestamp, Date.UTC(2026, 10, 22, 10, 9, 1));
  });

  it('puts traditional stamps in the year closest to now across New Year', () => {
    const newYear = Date.UTC(2027, 0, 1, 0, 0, 5);
    const late = parseSyslogLine('Dec 31 23:59:58 host kernel: x', newYear);
    assert.ok(late.ok);
    assert.equal(late.value.timestamp, Date.UTC(2026, 11, 31, 23, 59, 58));
    const early = parseSyslogLine('Jan  1 00:00:02 host kernel: x', Date.UTC(2026, 11, 31, 23, 59, 59));
    assert.ok(early.ok);
    assert.equal(early.value.timestamp, Date.UTC(2027, 0, 1, 0, 0, 2));
    const leap = parseSyslogLine('Feb 29 10:00:00 host kernel: x', Date.UTC(2028, 2, 1));
    assert.ok(leap.ok);
    assert.equal(leap.value.timestamp, Date.UTC(2028, 1, 29, 10));
  });

  it('accepts only the exact kernel: tag', () => {
    assert.deepEqual(parseSyslogLine('Nov 22 10:09:01 host kernel[1]: x', NOW), { ok: false, reason: 'not-kernel' });
    assert.deepEqual(parseSyslogLine('Nov 22 10:09:01 host kernel x', NOW), { ok: false, reason: 'not-kernel' });
    assert.deepEqual(parseSyslogLine('Nov 22 10:09:01 host sshd: kernel: x', NOW), { ok: false, reason: 'not-kernel' });
  });

  it('rejects bad stamps and lines without a tag', () => {
    for (const line of ['', 'garbage', 'Foo 22 10:09:01 h kernel: x', 'Feb 30 10:09:01 h kernel: x', '2026-13-01T00:00:00Z h kernel: x', '2026-11-22T10:09:01.123 h kernel: x']) {
      assert.deepEqual(parseSyslogLine(line, NOW), { ok: false, reason: 'syslog-bad-timestamp' }, line);
    }
    assert.deepEqual(parseSyslogLine('2026-11-22T10:09:01Z hostonly', NOW), { ok: false, reason: 'syslog-no-tag' });
  });

  it('round-trips generated RFC 3339 lines', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2099, 0, 1) }),
        fc.integer({ min: -12 * 60, max: 14 * 60 }),
        fc.stringMatching(/^[a-z0-9.-]{1,20}$/),
        fc.stringMatching(/^[ -~]{0,80}$/),
        (ms, offset, host, message) => {
          const local = new Date(ms + offset * 60_000).toISOString().slice(0, 23);
          const zone = `${offset < 0 ? '-' : '+'}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
          const body = message.replace(/^\[/, '(');
          const parsed = parseSyslogLine(`${local}123${zone} ${host} kernel: ${body}`, ms);
          assert.ok(parsed.ok);
          assert.deepEqual(parsed.value, { timestamp: ms, precise: true, host, tag: 'kernel:', message: body });
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it('infers the year of traditional stamps within a few days of now', () => {
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2001, 0, 1), max: Date.UTC(2098, 0, 1) }),
        fc.integer({ min: -5 * 86_400_000, max: 5 * 86_400_000 }),
        (now, delta) => {
          const at = Math.floor((now + delta) / 1000) * 1000;
          const d = new Date(at);
          const pad = (n: number) => String(n).padStart(2, '0');
          const line = `${months[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} h kernel: x`;
          const parsed = parseSyslogLine(line, now);
          assert.ok(parsed.ok, line);
          assert.equal(parsed.value.timestamp, at, line);
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.constantFrom('', 'Nov 22 10:09:01 ', '2026-11-22T10:09:01.1Z ', 'Nov 22 10:09:01 h kernel: '), fc.string({ maxLength: 120 }), (head, tail) => {
        const parsed = parseSyslogLine(head + tail, NOW);
        if (!parsed.ok) assert.ok(parsed.reason.length > 0);
      }),
      { numRuns: 10_000 },
    );
  });
});
