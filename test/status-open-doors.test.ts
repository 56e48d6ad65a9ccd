import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { exitStatusFor, isNfknockError } from '../src/core/errors.js';
import { DoorKeeper } from '../src/doors/door-keeper.js';
import { decideOpen } from '../src/doors/open-decision.js';
import { serializeState, type PendingClose } from '../src/state/state-format.js';
import { StateStore, STATE_FILE_NAME } from '../src/state/state-store.js';
import { defaultStatusCommandIo, readStatus, registerStatusCommand, type StatusCommandIo } from '../src/status/command.js';
import { formatDuration, formatStatus, snapshotFromStateText } from '../src/status/status.js';

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);

function pending(overrides: Partial<PendingClose> = {}): PendingClose {
  return {
    id: 'openSSH-1',
    door: 'openSSH',
    source: '203.0.113.7',
    family: 4,
    stopCommand: '/sbin/iptables -D INPUT -s 203.0.113.7 -p tcp --dport 22 -j ACCEPT',
    openedAt: NOW - 60_000,
    closesAt: NOW + 245_000,
    ...overrides,
  };
}

function withStateDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nfk-h-status-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

async function run(args: string[], io: Partial<StatusCommandIo> = {}): Promise<{ out: string; err: string; error?: unknown }> {
  const result: { out: string; err: string; error?: unknown } = { out: '', err: '' };
  const program = new Command('nfknock').exitOverride().configureOutput({ writeOut: (t) => (result.out += t), writeErr: (t) => (result.err += t) });
  // No kernel unless a test brings its own: the host's sets are not this test's business.
  const { kernel: _hostKernel, ...withoutKernel } = defaultStatusCommandIo;
  registerStatusCommand(program, { ...withoutKernel, now: () => NOW, out: (t) => (result.out += t), ...io });
  try {
    await program.parseAsync(['status', ...args], { from: 'user' });
  } catch (error) {
    result.error = error;
  }
  return result;
}

test('status lists each open door with source, opened, closes and time left, earliest close first', withStateDir(async (dir) => {
  const v6 = pending({ id: 'web-2', door: 'web', source: '2001:db8::7', family: 6, stopCommand: 'close 2001:db8::7', closesAt: NOW + 30_000 });
  writeFileSync(join(dir, STATE_FILE_NAME), serializeState([pending(), v6]), { mode: 0o600 });
  const result = await run(['--state-dir', dir]);
  assert.equal(result.error, undefined);
  assert.deepEqual(result.out.split('\n').slice(0, 3), [
    'DOOR     SOURCE       OPENED                    CLOSES                    LEFT',
    'web      2001:db8::7  2026-12-01T11:59:00.000Z  2026-12-01T12:00:30.000Z  30s',
    'openSSH  203.0.113.7  2026-12-01T11:59:00.000Z  2026-12-01T12:04:05.000Z  4m05s',
  ]);
  assert.match(result.out, /Stop_Command are not tracked/);
  const json = JSON.parse((await run(['--state-dir', dir, '--json'])).out) as { openDoors: { door: string; secondsLeft: number; overdue: boolean }[]; found: boolean };
  assert.equal(json.found, true);
  assert.deepEqual(json.openDoors.map((d) => [d.door, d.secondsLeft, d.overdue]), [
    ['web', 30, false],
    ['openSSH', 245, false],
  ]);
}));

test('status never changes the state dir: no file created, nothing moved aside, even for a corrupt file', withStateDir(async (dir) => {
  const missing = join(dir, 'not-yet');
  const none = await run(['--state-dir', missing]);
  assert.equal(none.error, undefined);
  assert.match(none.out, /^No open doors: .*not-yet\/pending-closes\.json does not exist/);
  assert.throws(() => statSync(missing), /ENOENT/, 'the directory was not created');

  writeFileSync(join(dir, STATE_FILE_NAME), '{"format":"nfknock-state","version":1,"pend');
  const corrupt = await run(['--state-dir', dir]);
  assert.ok(isNfknockError(corrupt.error));
  assert.equal(corrupt.error.code, 'NFK_STATE_CORRUPT');
  assert.equal(exitStatusFor(corrupt.error), 65);
  assert.match(corrupt.error.describe(), /pending-closes\.json: the state file is unusable: not valid JSON/);
  assert.deepEqual(readdirSync(dir), [STATE_FILE_NAME], 'not moved aside: that is the daemon\'s job');
}));

test('an empty state file means no open doors; overdue doors say so', withStateDir(async (dir) => {
  writeFileSync(join(dir, STATE_FILE_NAME), serializeState([]));
  assert.match((await run(['--state-dir', dir])).out, /^No open doors\.$/m);
  writeFileSync(join(dir, STATE_FILE_NAME), serializeState([pending({ openedAt: NOW - 100_000, closesAt: NOW - 90_000 })]));
  const overdue = await run(['--state-dir', dir]);
  assert.match(overdue.out, /overdue by 1m30s/);
  assert.match(overdue.out, /the daemon is not running/);
}));

test('bad records: the good doors are shown, the bad ones listed, and the exit status says corrupt', withStateDir(async (dir) => {
  const document = JSON.parse(serializeState([pending()])) as { pending: unknown[] };
  document.pending.push({ ...pending({ id: 'x' }), source: '10.0.0.010' });
  writeFileSync(join(dir, STATE_FILE_NAME), JSON.stringify(document));
  const result = await run(['--state-dir', dir]);
  assert.match(result.out, /^openSSH {2}203\.0\.113\.7/m);
  assert.match(result.out, /problem: pending\[1\] \(door "openSSH", source "10\.0\.0\.010"\): "source" "10\.0\.0\.010" is not the canonical/);
  assert.ok(isNfknockError(result.error));
  assert.equal(result.error.code, 'NFK_STATE_CORRUPT');
  assert.equal(readFileSync(join(dir, STATE_FILE_NAME), 'utf8'), JSON.stringify(document), 'untouched');
}));

test('an unreadable state file is a permission error naming the file; other read errors are state I/O', async () => {
  const denied = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
  await assert.rejects(readStatus('/var/lib/nfknock', { readFile: () => Promise.reject(denied) }), (error: unknown) => {
    assert.ok(isNfknockError(error));
    assert.equal(error.code, 'NFK_PERMISSION');
    assert.match(error.message, /\/var\/lib\/nfknock\/pending-closes\.json.*as root/);
    return true;
  });
  const io = Object.assign(new Error('EIO'), { code: 'EIO' });
  await assert.rejects(readStatus('/s', { readFile: () => Promise.reject(io) }), { code: 'NFK_STATE_IO' });
});

test('a state dir that is a file, and real permission bits, are handled without a crash', withStateDir(async (dir) => {
  const file = join(dir, 'plain');
  writeFileSync(file, 'x');
  const result = await run(['--state-dir', file]);
  assert.equal(result.error, undefined, 'ENOTDIR: nothing is open there');
  assert.match(result.out, /^No open doors/);
  if (process.getuid?.() !== 0) {
    const locked = join(dir, 'locked');
    mkdirSync(locked, { mode: 0o700 });
    writeFileSync(join(locked, STATE_FILE_NAME), serializeState([pending()]));
    chmodSync(locked, 0o000);
    const denied = await run(['--state-dir', locked]);
    assert.equal((denied.error as { code?: string }).code, 'NFK_PERMISSION');
    chmodSync(locked, 0o700);
  }
}));

test('status uses /var/lib/nfknock by default and rejects unknown flags', async () => {
  const read: string[] = [];
  await run([], { readFile: (path) => (read.push(path), Promise.reject(Object.assign(new Error('ENOENT'), { code: 'ENOENT' }))) });
  assert.deepEqual(read, ['/var/lib/nfknock/pending-closes.json']);
  const bad = await run(['--statedir', '/tmp']);
  assert.ok(bad.error instanceof CommanderError);
  assert.match(bad.err, /unknown option '--statedir'/);
});

test(
  'a door the daemon\'s open decision opened is listed by status',
  withStateDir(async (dir) => {
    const keeper = new DoorKeeper();
    const plan = decideOpen(keeper, { name: 'openSSH', steps: [], seqTimeoutMs: 5000, tcpFlags: { required: 0, forbidden: 0 }, startCommand: 'open %IP%', stopCommand: 'close %IP%', cmdTimeoutMs: 10_000, line: 1, keyLines: {} }, '203.0.113.7', 4, NOW);
    assert.ok(plan.effect === 'start' && plan.pending);
    writeFileSync(join(dir, STATE_FILE_NAME), serializeState([plan.pending]));
    const result = await run(['--state-dir', dir]);
    assert.equal(result.error, undefined);
    assert.match(result.out, /^openSSH {2}203\.0\.113\.7/m);
  }),
);

test('durations are short and never negative', () => {
  assert.deepEqual([0, 1, 999, 59_000, 60_000, 3_599_000, 3_600_000, 86_400_000 + 7_200_000, -5].map(formatDuration), [
    '0s',
    '1s',
    '1s',
    '59s',
    '1m00s',
    '59m59s',
    '1h00m',
    '1d02h',
    '0s',
  ]);
  const snapshot = snapshotFromStateText(serializeState([pending({ door: 'evil\nline' })]), '/s/pending-closes.json');
  assert.doesNotMatch(formatStatus(snapshot, NOW), /evil\nline/, 'a door name cannot forge a line');
});

test('status shows the kernel\'s countdown of Open = doors next to the state file, and every mismatch', withStateDir(async (dir) => {
  const open = pending({ stopCommand: undefined, open: { firewall: 'nft', ports: [{ protocol: 'tcp', from: 22, to: 22 }] } });
  const lost = pending({ id: 'web-1', door: 'web', source: '203.0.113.9', stopCommand: undefined, open: { firewall: 'nft', ports: [{ protocol: 'tcp', from: 443, to: 443 }] } });
  writeFileSync(join(dir, STATE_FILE_NAME), serializeState([open, lost]), { mode: 0o600 });
  const kernel = async (firewall: 'nft' | 'ipset') =>
    firewall === 'nft'
      ? {
          firewall,
          available: true as const,
          entries: [
            { firewall, source: '203.0.113.7', family: 4 as const, port: { protocol: 'tcp' as const, from: 22, to: 22 }, expiresInSeconds: 244 },
            { firewall, source: '198.51.100.1', family: 4 as const, port: { protocol: 'udp' as const, from: 60000, to: 61000 } },
          ],
        }
      : { firewall, available: false as const, reason: 'ipset is not installed' };
  const result = await run(['--state-dir', dir], { kernel });
  assert.equal(result.error, undefined);
  const text = result.out;
  assert.match(text, /Kernel \(nft inet nfknock open4\/open6\):\n  SOURCE +PORT +KERNEL CLOSES IN +DOOR\n  203\.0\.113\.7 +22\/tcp +244s +openSSH\n  198\.51\.100\.1 +60000-61000\/udp +never \(no timeout\) +-/);
  assert.doesNotMatch(text, /ipset/, 'a backend nobody uses is not reported');
  assert.match(text, /mismatch: 198\.51\.100\.1 60000-61000\/udp is in the kernel's nft set but not in the state file/);
  assert.match(text, /mismatch: door web for 203\.0\.113\.9 \(443\/tcp\) is recorded but has no nft entry/);
  const json = JSON.parse((await run(['--state-dir', dir, '--json'], { kernel })).out) as { kernel: unknown[]; mismatches: unknown[]; openDoors: unknown[] };
  assert.equal(json.openDoors.length, 2);
  assert.equal(json.mismatches.length, 2);
  assert.deepEqual(json.kernel[0], { firewall: 'nft', entries: [{ source: '203.0.113.7', protocol: 'tcp', from: 22, to: 22, secondsLeft: 244 }, { source: '198.51.100.1', protocol: 'udp', from: 60000, to: 61000, secondsLeft: null }] });
  const asked = await run(['--state-dir', dir, '--firewall', 'ipset'], { kernel });
  assert.match(asked.out, /Kernel \(ipset nfknock-open4\/nfknock-open6\):\n  not readable: ipset is not installed/);
  assert.ok(isNfknockError((await run(['--state-dir', dir, '--firewall', 'pf'], { kernel })).error));
}));

test('status reads the journal on top of the snapshot, as the daemon loads them', withStateDir(async (dir) => {
  const store = new StateStore(dir);
  await store.save([pending(), pending({ id: 'gone-1', door: 'gone', source: '203.0.113.8' })]);
  await store.record({ opened: pending({ id: 'web-3', door: 'web', source: '198.51.100.4', closesAt: NOW + 10_000 }) });
  await store.record({ closed: 'gone-1' });
  const files = readdirSync(dir).sort();
  assert.deepEqual(files, ['pending-closes.journal.1', STATE_FILE_NAME], 'the records are in the journal, not the snapshot');
  // A crash mid-append leaves a last line cut short: not a problem, its door never opened.
  writeFileSync(join(dir, 'pending-closes.journal.1'), `${readFileSync(join(dir, 'pending-closes.journal.1'), 'utf8')}opened {"id":"half`);
  const result = await run(['--state-dir', dir]);
  assert.equal(result.error, undefined);
  assert.match(result.out, /^web +198\.51\.100\.4/m);
  assert.match(result.out, /^openSSH +203\.0\.113\.7/m);
  assert.doesNotMatch(result.out, /gone/);
  await store.close();
}));

test('a journal without a snapshot is read, and a damaged journal line is reported like a damaged record', withStateDir(async (dir) => {
  writeFileSync(join(dir, 'pending-closes.journal.2'), `nfknock-journal 1\nopened ${JSON.stringify(pending())}\nopened {"id":\n`, { mode: 0o600 });
  const result = await run(['--state-dir', dir]);
  assert.match(result.out, /^openSSH +203\.0\.113\.7/m);
  assert.equal((result.error as { code?: string }).code, 'NFK_STATE_CORRUPT');
  assert.match(result.out + String((result.error as Error).message), /pending-closes\.journal\.2: line 3/);
}));

test('a compaction between status\'s reads (a journal gone) makes it read again', async () => {
  let lists = 0;
  const io = {
    // The first listing still shows journal 1; by the time it is read, a compaction removed it.
    listDir: async () => (lists++ === 0 ? ['pending-closes.journal.1'] : ['pending-closes.journal.2']),
    readFile: async (path: string) => {
      if (path.endsWith(STATE_FILE_NAME)) return lists <= 1 ? serializeState([]) : serializeState([pending()], 2);
      if (path.endsWith('journal.2')) return 'nfknock-journal 1\n';
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    },
  };
  const snapshot = await readStatus('/s', io);
  assert.deepEqual(snapshot.pending.map((p) => p.id), ['openSSH-1']);
  assert.ok(lists >= 3, 'listed again after the vanished journal');
});
