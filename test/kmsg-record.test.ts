import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseKmsgRecord } from '../src/decode/kmsg.js';
import { realKmsgRecords, realLines } from './helpers/logline-fixtures.js';

describe('parseKmsgRecord', () => {
  it('splits a real kernel LOG record into facility, level, seq, usec and message', () => {
    const parsed = parseKmsgRecord(realKmsgRecords.kernelLog);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.facility, 0);
    assert.equal(parsed.value.level, 4);
    assert.equal(parsed.value.seq, 358);
    assert.equal(parsed.value.usec, 399496465);
    assert.equal(parsed.value.flag, '-');
    assert.equal(parsed.value.message, realLines.tcpManyFlags);
  });

  it('shows userspace writes with the user facility even when they ask for <0>', () => {
    for (const text of [realKmsgRecords.userspacePlain, realKmsgRecords.userspaceClaimsEmergKernel]) {
      const parsed = parseKmsgRecord(text);
      assert.ok(parsed.ok);
      assert.equal(parsed.value.facility, 1);
    }
  });

  it('reads dictionary continuation lines', () => {
    const parsed = parseKmsgRecord(realKmsgRecords.withDictionary);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.message, 'usb 1-1: new high-speed USB device');
    assert.deepEqual({ ...parsed.value.dictionary }, { SUBSYSTEM: 'usb', DEVICE: 'c189:1' });
  });

  it('accepts extra comma-separated header fields (caller=)', () => {
    const parsed = parseKmsgRecord('6,12,345,-,caller=T1;hello\n');
    assert.ok(parsed.ok);
    assert.equal(parsed.value.message, 'hello');
  });

  it('rejects malformed records', () => {
    const cases: [string, string][] = [
      ['', 'kmsg-bad-header'],
      ['6,1,2;x\n', 'kmsg-bad-header'],
      ['x,1,2,-;x\n', 'kmsg-bad-header'],
      ['2048,1,2,-;x\n', 'kmsg-bad-header'],
      ['6,99999999999999999999,2,-;x\n', 'kmsg-bad-header'],
      ['6,1,2,-;no newline', 'kmsg-truncated'],
      ['6,1,2,-;x\n SUBSYSTEM=usb', 'kmsg-truncated'],
      ['6,1,2,-;x\nSUBSYSTEM=usb\n', 'kmsg-bad-dictionary'],
      ['6,1,2,-;x\n =usb\n', 'kmsg-bad-dictionary'],
    ];
    for (const [text, reason] of cases) assert.deepEqual(parseKmsgRecord(text), { ok: false, reason }, JSON.stringify(text));
  });

  it('round-trips generated records', () => {
    const record = fc.record({
      facility: fc.nat(255),
      level: fc.nat(7),
      seq: fc.maxSafeNat(),
      usec: fc.maxSafeNat(),
      flag: fc.constantFrom('-', 'c', '+'),
      message: fc.string({ maxLength: 200, unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }),
      dictionary: fc.dictionary(fc.stringMatching(/^[A-Z]{1,10}$/), fc.stringMatching(/^[ -~]{0,20}$/), { maxKeys: 3 }),
    });
    fc.assert(
      fc.property(record, (r) => {
        const dict = Object.entries(r.dictionary).map(([k, v]) => ` ${k}=${v}\n`).join('');
        const text = `${r.facility * 8 + r.level},${r.seq},${r.usec},${r.flag};${r.message}\n${dict}`;
        const parsed = parseKmsgRecord(text);
        assert.ok(parsed.ok, text);
        assert.deepEqual({ ...parsed.value, dictionary: { ...parsed.value.dictionary } }, { ...r, dictionary: { ...r.dictionary } });
      }),
      { numRuns: 10_000 },
    );
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.constantFrom('', '4,1,2,-;', '6,1,2,-;x\n'), (tail, head) => {
        const parsed = parseKmsgRecord(head + tail);
        if (!parsed.ok) assert.ok(parsed.reason.startsWith('kmsg-'));
      }),
      { numRuns: 10_000 },
    );
  });
});
