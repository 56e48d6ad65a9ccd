import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { isNfknockError, exitStatusFor, type NfknockError } from '../src/core/errors.js';
import { reportError } from '../src/cli/run-cli.js';
import { defaultSimulateCommandIo, registerSimulateCommand, type SimulateCommandIo } from '../src/simulate/command.js';
import type { SimulationReport } from '../src/simulate/simulate.js';
import { rfc3339Line } from './fixtures/simulate/lines.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/simulate/', import.meta.url));
const CONF = join(FIXTURES, 'knockd.conf');
const NOW = Date.UTC(2026, 10, 22, 10);

interface Run {
  out: string;
  err: string;
  error?: unknown;
}

async function run(args: string[], io: Partial<SimulateCommandIo> = {}): Promise<Run> {
  const result: Run = { out: '', err: '' };
  const program = new Command('nfknock').exitOverride().configureOutput({
    writeOut: (text) => (result.out += text),
    writeErr: (text) => (result.err += text),
  });
  registerSimulateCommand(program, {
    ...defaultSimulateCommandIo,
    now: () => NOW,
    localUtcOffsetAt: () => 0,
    stdinIsTerminal: () => false,
    out: (text) => (result.out += text),
    ...io,
  });
  try {
    await program.parseAsync(['simulate', ...args], { from: 'user' });
  } catch (error) {
    result.error = error;
  }
  return result;
}

function code(error: unknown): string | undefined {
  return isNfknockError(error) ? (error as NfknockError).code : undefined;
}

test('simulate prints every event and the summary of a log file', async () => {
  const result = await run(['-c', CONF, join(FIXTURES, 'rfc3339.log')]);
  assert.equal(result.error, undefined);
  assert.match(result.out, /^2026-11-21T23:14:02\.703Z {2}203\.0\.113\.7 {2}openSSH: OPEN SESAME \(fixed\) {2}\[line 3\]$/m);
  assert.match(result.out, /^ {4}start command: \/sbin\/iptables -I INPUT -s 203\.0\.113\.7 -p tcp --dport 22 -j ACCEPT$/m);
  assert.match(result.out, /^2026-11-21T23:14:20\.100Z {2}203\.0\.113\.7 {2}openSSH: CLOSE/m);
  assert.match(result.out, /doors opened: 1 \(plus 1 re-knock\(s\) that extended an open door\), closed: 1/);
});

test('--json gives the report as one document, --verbose adds the skipped lines', async () => {
  const result = await run(['-c', CONF, join(FIXTURES, 'rfc3339.log'), '--json', '--verbose']);
  const report = JSON.parse(result.out) as SimulationReport;
  assert.deepEqual(
    report.opens.map((o) => [o.door, o.source, new Date(o.at).toISOString(), o.effect]),
    [
      ['openSSH', '203.0.113.7', '2026-11-21T23:14:02.703Z', 'start'],
      ['openSSH', '203.0.113.7', '2026-11-21T23:14:10.100Z', 'extend'],
    ],
  );
  assert.deepEqual(
    report.skippedLines.map((s) => [s.line, s.reason]),
    [
      [4, 'prefix-mismatch'],
      [10, 'not-kernel'],
      [11, 'unrecognised-format'],
    ],
  );
});

test('`-` reads standard input; with neither a file nor a KernelLog a terminal on stdin is a usage error', async () => {
  const lines = [7000, 8000, 9000].map((port, i) => rfc3339Line({ source: '198.51.100.4', port, at: NOW + i * 10 }));
  const io = {
    lines: (path: string) => {
      assert.equal(path, '-');
      return (async function* () {
        yield* lines;
      })();
    },
  };
  const piped = await run(['-c', CONF, '-', '--json'], io);
  assert.deepEqual((JSON.parse(piped.out) as SimulationReport).opens.map((o) => o.source), ['198.51.100.4']);
  const implicit = await run(['-c', CONF, '--json'], io);
  assert.equal((JSON.parse(implicit.out) as SimulationReport).opens.length, 1, 'no FILE: standard input');
  const terminal = await run(['-c', CONF], { ...io, stdinIsTerminal: () => true });
  assert.equal(code(terminal.error), 'NFK_USAGE');
  assert.equal(exitStatusFor(terminal.error), 64);
});

test('without FILE the config\'s KernelLog is replayed, and as the dedicated file it draws no forgery warning', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfk-h-sim-'));
  try {
    const kernelLog = join(dir, 'kernel.log');
    writeFileSync(kernelLog, readFileSync(join(FIXTURES, 'journalctl-short-iso-precise.log')), { mode: 0o600 });
    const conf = join(dir, 'knockd.conf');
    writeFileSync(conf, `[options]\n KernelLog = ${kernelLog}\n Source = file\n[ssh]\n sequence = 7000,8000,9000\n command = open %IP%\n`);
    const result = await run(['-c', conf]);
    assert.equal(result.error, undefined);
    assert.match(result.out, /OPEN SESAME/);
    assert.doesNotMatch(result.out, /logger -t kernel/);
    const other = await run(['-c', conf, join(FIXTURES, 'rfc3339.log')]);
    assert.match(other.out, /logger -t kernel/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one-time doors use the file\'s unused lines; --include-used also accepts lines commented out with a # in front (nfknock before in-place marking), not lines marked in place', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfk-h-sim-'));
  try {
    const sequences = join(dir, 'mail.seq');
    writeFileSync(sequences, '# sequences for the mail door\n#2000,3000\n#000,6000\n4000,5000\n', { mode: 0o600 });
    const conf = join(dir, 'knockd.conf');
    writeFileSync(conf, `[mail]\n one_time_sequences = ${sequences}\n command = open %IP%\n`);
    const log = join(dir, 'kern.log');
    writeFileSync(log, `${[2000, 3000].map((port, i) => rfc3339Line({ source: '198.51.100.4', port, at: NOW + i })).join('\n')}\n`);
    const current = await run(['-c', conf, log, '--json']);
    assert.deepEqual((JSON.parse(current.out) as SimulationReport).opens, []);
    const audit = await run(['-c', conf, log, '--json', '--include-used']);
    assert.deepEqual((JSON.parse(audit.out) as SimulationReport).opens.map((o) => o.sequence), ['line:2']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--boot-time puts kmsg stamps on the wall clock; --utc-offset and --year date traditional stamps', async () => {
  const boot = await run(['-c', CONF, join(FIXTURES, 'kmsg.log'), '--boot-time', '2026-11-21T21:00:00Z', '--json']);
  assert.deepEqual((JSON.parse(boot.out) as SimulationReport).opens.map((o) => new Date(o.at).toISOString()), ['2026-11-21T23:14:02.704Z']);
  const epoch = await run(['-c', CONF, join(FIXTURES, 'kmsg.log'), `--boot-time=@${Date.UTC(2026, 10, 21, 21) / 1000}`, '--json']);
  assert.equal(epoch.out, boot.out);
  const local = await run(['-c', CONF, join(FIXTURES, 'traditional.log'), '--utc-offset', '-60', '--year', '2025', '--json']);
  assert.equal(local.error, undefined);
  assert.deepEqual((JSON.parse(local.out) as SimulationReport).opens.map((o) => new Date(o.at).toISOString()), ['2025-11-22T00:14:03.000Z']);
});

test('bad flags and values are usage errors (exit 64)', async () => {
  const unknown = await run(['-c', CONF, join(FIXTURES, 'rfc3339.log'), '--bogus']);
  assert.ok(unknown.error instanceof CommanderError);
  assert.equal((unknown.error as CommanderError).code, 'commander.unknownOption');
  assert.match(unknown.err, /unknown option '--bogus'/);
  assert.equal(reportError('nfknock', unknown.error), 64);
  const noConfig = await run([join(FIXTURES, 'rfc3339.log')]);
  assert.equal((noConfig.error as CommanderError).code, 'commander.missingMandatoryOptionValue');
  for (const [flag, value] of [
    ['--year', '26'],
    ['--utc-offset', '+2h'],
    ['--utc-offset', '5000'],
    ['--boot-time', 'yesterday'],
    ['--boot-time', '2026-11-21T21:00:00'],
  ] as const) {
    const bad = await run(['-c', CONF, join(FIXTURES, 'rfc3339.log'), flag, value]);
    assert.equal(code(bad.error), 'NFK_USAGE', `${flag} ${value}`);
    assert.equal(bad.out, '', 'nothing printed before the error');
  }
});

test('a missing config or log is a clear error with its exit status', async () => {
  const missing = await run(['-c', '/nonexistent/knockd.conf', join(FIXTURES, 'rfc3339.log')]);
  assert.equal(code(missing.error), 'NFK_CONFIG_READ');
  assert.match((missing.error as Error).message, /\/nonexistent\/knockd\.conf/);
  assert.equal(exitStatusFor(missing.error), 66);
  const noLog = await run(['-c', CONF, '/nonexistent/kern.log']);
  assert.equal(code(noLog.error), 'NFK_SOURCE_UNAVAILABLE');
  assert.match((noLog.error as Error).message, /cannot read the log \/nonexistent\/kern\.log: ENOENT/);
  assert.equal(noLog.out, '');
});

test('issue 10: a KernelLog that others share (kern.log, 0640) is never trusted by its path: the forgery warning stays', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfk-h-sim-'));
  try {
    const kernelLog = join(dir, 'kern.log');
    writeFileSync(kernelLog, readFileSync(join(FIXTURES, 'journalctl-short-iso-precise.log')));
    chmodSync(kernelLog, 0o640);
    const conf = join(dir, 'knockd.conf');
    writeFileSync(conf, `[options]\n KernelLog = ${kernelLog}\n Source = file\n[ssh]\n sequence = 7000,8000,9000\n command = open %IP%\n`);
    const result = await run(['-c', conf]);
    assert.equal(result.error, undefined);
    assert.match(result.out, /logger -t kernel/, 'the configured KernelLog is kern.log: anyone can forge lines in it');
    // Even mode 0600: the name says general syslog file.
    chmodSync(kernelLog, 0o600);
    assert.match((await run(['-c', conf])).out, /logger -t kernel/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
