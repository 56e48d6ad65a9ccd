/**
 * Issue 10, Build item 7: no tool crashes on any input. `status` given any state file and `simulate`
 * given any log line give a clear error or skip the item with a reason, never a stack trace; a
 * damaged state file keeps every record it can read and names the ones it lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { isNfknockError } from '../src/core/errors.js';
import { parseConfig } from '../src/config/parse.js';
import { serializeState, type PendingClose } from '../src/state/state-format.js';
import { parseStateLeniently } from '../src/state/state-salvage.js';
import { StateStore, STATE_FILE_NAME } from '../src/state/state-store.js';
import { formatStatus, snapshotFromStateText } from '../src/status/status.js';
import { Simulation } from '../src/simulate/simulate.js';
import { formatReport } from '../src/simulate/format.js';
import { timeSequenceDeriver } from '../src/timeseq/deriver.js';

const FIXTURES = new URL('../../test/fixtures/simulate/', import.meta.url);
const NOW = Date.UTC(2026, 10, 22, 10);

const record = (i: number): PendingClose => ({ id: `r${i}`, door: `door ${i}`, source: `10.0.0.${i}`, family: 4, stopCommand: `iptables -D INPUT -s 10.0.0.${i} -j ACCEPT`, openedAt: NOW, closesAt: NOW + 60_000 });

test('a state file cut short keeps every whole record and names the one it lost', () => {
  const text = serializeState([record(1), record(2), record(3)]);
  const cut = text.slice(0, text.indexOf('"stopCommand"', text.indexOf('door 3')));
  const parsed = parseStateLeniently(cut);
  assert.deepEqual(parsed.pending.map((p) => p.id), ['r1', 'r2']);
  assert.match(parsed.problems[0] ?? '', /^not valid JSON .*2 record\(s\) recovered/);
  assert.match(parsed.problems.join('\n'), /a record was cut off \(door "door 3", source "10\.0\.0\.3"\): close its door by hand/);
  const snapshot = snapshotFromStateText(cut, '/var/lib/nfknock/pending-closes.json');
  assert.equal(snapshot.pending.length, 2);
  assert.match(formatStatus(snapshot, NOW), /door 3/);
});

test('the daemon\'s store keeps the recovered records of a damaged file and copies the file aside', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-salvage-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const text = serializeState([record(1), record(2)]);
  await writeFile(join(dir, STATE_FILE_NAME), text.slice(0, text.length - 30), { mode: 0o600 });
  const store = new StateStore(dir, { now: () => 5 });
  t.after(() => store.close());
  const loaded = await store.load();
  assert.deepEqual(loaded.pending.map((p) => p.id), ['r1']);
  assert.match(loaded.problems.join('\n'), /cut off \(door "door 2", source "10\.0\.0\.2"\).*copied to/);
});

const stateText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 400 }),
  fc.json({ maxDepth: 4 }),
  // A valid file, cut or with one character changed: the damage a disk or an editor does.
  fc.tuple(fc.array(fc.integer({ min: 1, max: 250 }), { maxLength: 5 }), fc.nat(), fc.string({ maxLength: 2 })).map(([ids, at, insert]) => {
    const text = serializeState(ids.map((i, n) => ({ ...record(i), id: `r${n}` })));
    const cut = at % (text.length + 1);
    return text.slice(0, cut) + insert + text.slice(cut + (insert.length > 0 ? 1 : 0));
  }),
);

test('fuzz: status on any state file text gives a snapshot or NFK_STATE_CORRUPT, never a crash', () => {
  fc.assert(
    fc.property(stateText, (text) => {
      try {
        const snapshot = snapshotFromStateText(text, '/var/lib/nfknock/pending-closes.json');
        assert.equal(typeof formatStatus(snapshot, NOW), 'string');
        formatStatus(snapshot, NOW, { json: true });
      } catch (error) {
        assert.ok(isNfknockError(error) && error.code === 'NFK_STATE_CORRUPT', String(error));
      }
    }),
    { numRuns: 2000 },
  );
});

const realLines = ['rfc3339.log', 'traditional.log', 'kmsg.log', 'dmesg-raw.log', 'dmesg.log', 'dmesg-ctime.log', 'journalctl-short-iso-precise.log'].flatMap((name) =>
  readFileSync(new URL(name, FIXTURES), 'utf8').split('\n').filter(Boolean),
);

const logLine = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.tuple(fc.constantFrom(...realLines), fc.nat(), fc.nat({ max: 40 }), fc.string({ unit: 'binary', maxLength: 12 })).map(([line, at, drop, insert]) => {
    const cut = at % (line.length + 1);
    return line.slice(0, cut) + insert + line.slice(cut + drop);
  }),
);

test('fuzz: simulate on any log lines skips what it cannot use with a reason, never a crash', () => {
  const config = parseConfig(readFileSync(new URL('knockd.conf', FIXTURES), 'utf8'), 'knockd.conf');
  fc.assert(
    fc.property(fc.array(logLine, { maxLength: 30 }), (lines) => {
      const simulation = new Simulation(config, { reference: NOW, utcOffsetAt: () => 0, deriver: timeSequenceDeriver, keepSkippedLines: true });
      for (const line of lines) simulation.line(line);
      const report = simulation.finish();
      assert.equal(report.lines, lines.length);
      const skipped = Object.values(report.skipped).reduce((sum, n) => sum + (n ?? 0), 0);
      assert.equal(report.knocks + skipped, lines.length, 'every line is a knock or skipped with a reason');
      assert.equal(typeof formatReport(report), 'string');
    }),
    { numRuns: 300 },
  );
});
