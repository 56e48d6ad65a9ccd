import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseState, serializeState, STATE_VERSION, type PendingClose } from '../src/state/state-format.js';
import { formatIPv4, formatIPv6 } from '../src/core/address.js';
import { JOURNAL_HEADER, journalLine, parseJournal, type JournalRecord } from '../src/state/journal-format.js';

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

test('the snapshot names its first journal generation; files of earlier versions have none and read the same', () => {
  const withJournal = parseState(serializeState([record()], 7));
  assert.deepEqual(withJournal, { pending: [record()], problems: [], readable: true, journal: 7 });
  assert.equal('journal' in parseState(serializeState([record()])), false);
  // What the released version wrote (no "journal" field) reads unchanged.
  const released = `{\n  "format": "nfknock-state",\n  "version": 1,\n  "pending": [\n    ${JSON.stringify(record())}\n  ]\n}\n`;
  assert.deepEqual(parseState(released), { pending: [record()], problems: [], readable: true });
  for (const bad of [-1, 1.5, '3', null]) assert.equal(parseState(JSON.stringify({ ...JSON.parse(serializeState([record()])), journal: bad })).journal, undefined);
});

const arbitraryRecord: fc.Arbitrary<JournalRecord> = fc.oneof(
  arbitraryPending.map((opened) => ({ opened })),
  fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/).map((closed) => ({ closed })),
);

test('journal records round-trip exactly, one line each', () => {
  fc.assert(
    fc.property(fc.array(arbitraryRecord, { maxLength: 20 }), (records) => {
      const text = `${JOURNAL_HEADER}\n${records.map(journalLine).join('')}`;
      assert.equal(text.split('\n').length, records.length + 2);
      assert.deepEqual(parseJournal(text), { records, problems: [], readable: true });
    }),
  );
});

test('a journal cut anywhere keeps every whole line, and only the last line can be torn', () => {
  const records: JournalRecord[] = [{ opened: record() }, { opened: record({ id: 'c-2', source: 'fd00::2', family: 6 }) }, { closed: 'c-1' }];
  const text = `${JOURNAL_HEADER}\n${records.map(journalLine).join('')}`;
  for (let cut = 0; cut <= text.length; cut++) {
    const parsed = parseJournal(text.slice(0, cut));
    const whole = text.slice(0, cut).split('\n').length - 2;
    assert.deepEqual(parsed.problems, [], `cut at ${cut}`);
    assert.equal(parsed.readable, true);
    assert.deepEqual(parsed.records, records.slice(0, Math.max(0, whole)), `cut at ${cut}`);
    assert.equal(parsed.torn !== undefined, cut > 0 && text[cut - 1] !== '\n', `cut at ${cut}`);
  }
});

test('damaged journal lines are reported with what they name and skipped alone; a wrong header makes the journal unusable', () => {
  const bad = journalLine({ opened: record({ id: 'bad', source: '10.0.0.02' }) });
  const text = `${JOURNAL_HEADER}\n${journalLine({ opened: record() })}${bad}opened {"id":\nclosed 42\nreopened "x"\n${journalLine({ closed: 'c-9' })}`;
  const parsed = parseJournal(text);
  assert.deepEqual(parsed.records, [{ opened: record() }, { closed: 'c-9' }]);
  assert.equal(parsed.problems.length, 4);
  assert.match(parsed.problems[0] ?? '', /^line 3: opened \(door "openSSH", source "10\.0\.0\.02"\): "source"/);
  assert.match(parsed.problems[1] ?? '', /^line 4: .*damaged/);
  assert.match(parsed.problems[2] ?? '', /^line 5: "closed" without an id/);
  assert.match(parsed.problems[3] ?? '', /^line 6: unknown record "reopened"/);
  assert.equal(parseJournal(`nfknock-journal 2\n${journalLine({ closed: 'x' })}`).readable, false);
  assert.deepEqual(parseJournal(`nfknock-journal 2\n${journalLine({ closed: 'x' })}`).records, []);
});

test('fuzz: any journal text gives records that are valid, never a throw', () => {
  const base = `${JOURNAL_HEADER}\n${journalLine({ opened: record() })}${journalLine({ closed: 'c-1' })}`;
  fc.assert(
    fc.property(fc.integer({ min: 0, max: base.length }), fc.integer({ min: 0, max: 20 }), fc.string({ maxLength: 10 }), (at, deleteCount, insert) => {
      const parsed = parseJournal(base.slice(0, at) + insert + base.slice(at + deleteCount));
      for (const r of parsed.records) if ('opened' in r) assert.deepEqual(parseState(serializeState([r.opened])).problems, []);
    }),
  );
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => void parseJournal(text)));
});
