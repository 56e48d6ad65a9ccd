/** Issue 10, finding 3 and Build items 2, 3, 7: the kernel-log guard holds at every start and while a source runs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkKernelLogSource, GuardedSource, type Interval } from '../src/sources/kernel-log-guard.js';
import { isNfknockError, type NfknockError } from '../src/core/errors.js';
import type { KnockSource, SourceSink } from '../src/sources/types.js';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-guard-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const trust = (sysctl: string, extra: { allowNetnsLog?: boolean; acceptSharedKernelLog?: boolean } = {}) => ({
  allowNetnsLog: extra.allowNetnsLog ?? false,
  acceptSharedKernelLog: extra.acceptSharedKernelLog ?? false,
  readSysctl: async () => sysctl,
});

const code = (expected: string, pattern?: RegExp) => (error: unknown) => isNfknockError(error) && error.code === expected && (pattern === undefined || pattern.test(error.message));

test('nf_log_all_netns = 1 stops kmsg and file sources, not NFLOG; --allow-netns-log lifts it', async (t) => {
  const dir = await tempDir(t);
  const kernelLog = join(dir, 'kernel.log');
  await writeFile(kernelLog, '', { mode: 0o600 });
  await checkKernelLogSource({ source: 'nflog' }, trust('1'));
  await assert.rejects(checkKernelLogSource({ source: 'kmsg' }, trust('1\n')), code('NFK_SOURCE_UNAVAILABLE', /nf_log_all_netns is 1/));
  await assert.rejects(checkKernelLogSource({ source: 'file', kernelLog }, trust('1')), code('NFK_SOURCE_UNAVAILABLE'));
  await checkKernelLogSource({ source: 'file', kernelLog }, trust('1', { allowNetnsLog: true }));
  await checkKernelLogSource({ source: 'file', kernelLog }, trust('0'));
});

test('a KernelLog others share is refused unless the risk is accepted; its mode must be 0600', async (t) => {
  const dir = await tempDir(t);
  const kern = join(dir, 'kern.log');
  await writeFile(kern, '', { mode: 0o640 });
  await assert.rejects(checkKernelLogSource({ source: 'file', kernelLog: kern }, trust('0')), code('NFK_UNTRUSTED', /general syslog file/));
  await checkKernelLogSource({ source: 'file', kernelLog: kern }, trust('0', { acceptSharedKernelLog: true }));
  const readable = join(dir, 'kernel.log');
  await writeFile(readable, '', { mode: 0o644 });
  await assert.rejects(checkKernelLogSource({ source: 'file', kernelLog: readable }, trust('0')), code('NFK_UNTRUSTED', /chmod 600/));
});

test('a KernelLog that is a directory or a FIFO is refused at once; an absent one waits for rsyslog', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'adir'));
  await assert.rejects(checkKernelLogSource({ source: 'file', kernelLog: join(dir, 'adir') }, trust('0')), code('NFK_CONFIG_READ', /is a directory/));
  execFileSync('mkfifo', ['-m', '600', join(dir, 'fifo')]);
  await assert.rejects(checkKernelLogSource({ source: 'file', kernelLog: join(dir, 'fifo') }, trust('0')), code('NFK_CONFIG_READ', /is a FIFO/));
  await checkKernelLogSource({ source: 'file', kernelLog: join(dir, 'later', 'kernel.log') }, trust('0'));
});

function fakeSource() {
  const calls: string[] = [];
  const source: KnockSource = { start: async () => void calls.push('start'), close: async () => void calls.push('close') };
  return { source, calls };
}

function fakeTimers() {
  let tick: (() => void) | undefined;
  const timers: Interval = {
    setInterval: (fn) => {
      tick = fn;
      return 1 as unknown as NodeJS.Timeout;
    },
    clearInterval: () => (tick = undefined),
  };
  return { timers, fire: () => tick?.(), armed: () => tick !== undefined };
}

test('the guard runs before every start: a failing check never starts the source', async () => {
  const { source, calls } = fakeSource();
  const guarded = new GuardedSource(source, async () => Promise.reject(new Error('nf_log_all_netns is 1')), {} as SourceSink);
  await assert.rejects(guarded.start(), /nf_log_all_netns/);
  assert.deepEqual(calls, []);
});

test('re-checked while the source runs: once it fails, the source is closed and reported failed (the daemon retries with the guard)', async () => {
  const { source, calls } = fakeSource();
  let value = '0';
  const failures: NfknockError[] = [];
  const sink = { failed: (error: NfknockError) => failures.push(error) } as unknown as SourceSink;
  const { timers, fire, armed } = fakeTimers();
  const guarded = new GuardedSource(source, () => checkKernelLogSource({ source: 'kmsg' }, { ...trust('0'), readSysctl: async () => value }), sink, timers, 10);
  await guarded.start();
  fire();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(calls, ['start']);
  value = '1';
  fire();
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(calls, ['start', 'close']);
  assert.equal(failures.length, 1);
  assert.match(failures[0]?.message ?? '', /nf_log_all_netns is 1/);
  assert.equal(armed(), false);
  await guarded.close();
  assert.deepEqual(calls, ['start', 'close'], 'closed once');
});
