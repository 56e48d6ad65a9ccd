import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseState, serializeState, STATE_VERSION, type PendingClose } from '../src/state/state-format.js';
import { formatIPv4, formatIPv6 } from '../src/core/address.js';

const record = (overrides: Partial<PendingClose> = {}): PendingClose => ({
  id: 'c-1',
  door: 'openSSH',
  source: '10.0.0.2',
  family: 4,
  stopCommand: '/usr/sbin/iptables -D INPUT -s 10.0.0.2 -p tcp --dport 22 -j ACCEPT',
  openedAt: 1_790_000_000_000,
  closesAt: 1_790_000_010_000,
  ...overrides,
});

const arbitraryPending: fc.Arbitrary<PendingClose> = fc
  .record({
    id: fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/),
    door: fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[\u0000-\u001f\u007f]/.test(s)),
    v4: fc.boolean(),
    bytes: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    stopCommand: fc.string({ minLength: 1, maxLength: 200 }).filter((s) => s.trim().length > 0 && !/[\u0000-\u001f\u007f]/.test(s)),
    openedAt: fc.integer({ min: 0, max: 2 ** 45 }),
    duration: fc.integer({ min: 0, max: 10 ** 9 }),
  })
  .map((r) => ({
    id: r.id,
    door: r.door,
    source: r.v4 ? formatIPv4(r.bytes, 0) : formatIPv6(r.bytes, 0),
    family: r.v4 ? (4 as const) : (6 as const),
    stopCommand: r.stopCommand,
    openedAt: r.openedAt,
    closesAt: r.openedAt + r.duration,
  }));

const uniqueById = (list: PendingClose[]) => list.filter((p, i) => list.findIndex((q) => q.id === p.id) === i);

test('valid states round-trip exactly', () => {
  fc.assert(
    fc.property(fc.array(arbitraryPending, { maxLength: 20 }).map(uniqueById), (pending) => {
      const parsed = parseState(serializeState(pending));
      assert.deepEqual(parsed.problems, []);
      assert.equal(parsed.readable, true);
      assert.deepEqual(parsed.pending, pending);
    }),
  );
});

test('the file carries a format name and version', () => {
  const document = JSON.parse(serializeState([record()]));
  assert.equal(document.format, 'nfknock-state');
  assert.equal(document.version, STATE_VERSION);
});

test('mutated files never throw: they give problems, and every record kept is valid', () => {
  const base = serializeState([record(), record({ id: 'c-2', source: 'fd00::2', family: 6 })]);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: base.length - 1 }),
      fc.integer({ min: 0, max: 20 }),
      fc.string({ maxLength: 10 }),
      (at, deleteCount, insert) => {
        const mutated = base.slice(0, at) + insert + base.slice(at + deleteCount);
        const parsed = parseState(mutated);
        if (mutated !== base && parsed.problems.length === 0) {
          // A mutation that kept the file valid (e.g. in whitespace) must still round-trip its records.
          assert.deepEqual(parseState(serializeState(parsed.pending)).pending, parsed.pending);
        }
        for (const p of parsed.pending) assert.deepEqual(parseState(serializeState([p])).problems, []);
      },
    ),
  );
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const parsed = parseState(JSON.stringify(value));
      // Arbitrary JSON is essentially never a state file: it must come back as a reported problem.
      assert.ok(parsed.problems.length > 0);
      assert.deepEqual(parsed.pending, []);
    }),
  );
});

test('each field is checked, and a bad record is reported with its door and source and skipped alone', () => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ source: '10.0.0.02' }, /canonical/],
    [{ source: 'FD00::2', family: 6 }, /canonical/],
    [{ source: 'fd00::2', family: 4 }, /canonical/],
    [{ source: '10.0.0.2; rm -rf /' }, /canonical/],
    [{ family: 5 }, /family/],
    [{ stopCommand: 'iptables -D x\nrm -rf /' }, /stopCommand/],
    [{ stopCommand: '   ' }, /stopCommand/],
    [{ stopCommand: 42 }, /stopCommand/],
    [{ door: '' }, /door/],
    [{ id: 'a b' }, /id/],
    [{ openedAt: -1 }, /openedAt/],
    [{ closesAt: 1.5 }, /closesAt/],
    [{ closesAt: '1790000010000' }, /closesAt/],
    [{ closesAt: 1 }, /before/],
  ];
  for (const [overrides, reason] of bad) {
    const text = JSON.stringify({ format: 'nfknock-state', version: 1, pending: [{ ...record(), ...overrides }, record({ id: 'good' })] });
    const parsed = parseState(text);
    assert.equal(parsed.problems.length, 1, JSON.stringify(overrides));
    assert.match(parsed.problems[0] ?? '', reason);
    assert.match(parsed.problems[0] ?? '', /door "openSSH"|door ""/);
    assert.deepEqual(parsed.pending.map((p) => p.id), ['good']);
  }
});

test('a duplicate id is reported; unreadable files give no records', () => {
  const dup = JSON.stringify({ format: 'nfknock-state', version: 1, pending: [record(), record()] });
  assert.match(parseState(dup).problems[0] ?? '', /duplicate/);
  for (const [text, reason] of [
    ['', /JSON/],
    ['[]', /object/],
    ['{"format":"x","version":1,"pending":[]}', /format/],
    ['{"format":"nfknock-state","version":2,"pending":[]}', /version 2/],
    ['{"format":"nfknock-state","version":1,"pending":{}}', /array/],
  ] as const) {
    const parsed = parseState(text);
    assert.equal(parsed.readable, false);
    assert.deepEqual(parsed.pending, []);
    assert.match(parsed.problems[0] ?? '', reason);
  }
});
