/**
 * nfknockd under systemd without systemd: the reload verdict file and nfknockd-reload (ExecReload=)
 * against a stand-in daemon, and SIGHUPs held until the daemon is ready for them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { holdHangups, readReloadVerdict, ReloadStatus } from '../src/daemon/service-manager.js';

const reloadCli = fileURLToPath(new URL('../src/cli/nfknockd-reload.js', import.meta.url));
const serviceManager = new URL('../src/daemon/service-manager.js', import.meta.url).href;

test('each verdict gets a new generation; outside a RuntimeDirectory nothing is written', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-g-reload-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const status = new ReloadStatus(pino({ level: 'silent' }), dir);
  assert.equal(await readReloadVerdict(dir), undefined);
  await status.write(true, 'reloaded');
  const first = await readReloadVerdict(dir);
  await status.write(false, 'refused: line 4');
  const second = await readReloadVerdict(dir);
  assert.equal(first?.ok, true);
  assert.deepEqual({ ok: second?.ok, message: second?.message }, { ok: false, message: 'refused: line 4' });
  assert.notEqual(first?.generation, second?.generation);
  await new ReloadStatus(pino({ level: 'silent' }), undefined).write(true, 'nowhere');
});

/** A stand-in daemon: on SIGHUP it writes the verdict `ok` after a short delay, like a real reload. */
async function standIn(t: { after: (fn: () => unknown) => void }, dir: string, ok: boolean) {
  const script = `
    const { ReloadStatus } = await import(${JSON.stringify(serviceManager)});
    const status = new ReloadStatus({ error() {} }, ${JSON.stringify(dir)});
    process.on('SIGHUP', () => setTimeout(() => status.write(${ok}, ${JSON.stringify(ok ? 'configuration reloaded' : 'configuration refused: /etc/knockd.conf:4: unknown key')}), 100));
    console.log('ready');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  return child.pid as number;
}

function reload(pid: number, dir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [reloadCli, String(pid)], { env: { ...process.env, RUNTIME_DIRECTORY: dir } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code) : 0, stdout, stderr });
    });
  });
}

test('nfknockd-reload waits for the verdict: 0 when reloaded, 1 with the reason when refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-g-reload-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const accepted = await reload(await standIn(t, dir, true), dir);
  assert.equal(accepted.code, 0, accepted.stderr);
  assert.match(accepted.stdout, /configuration reloaded/);
  const refused = await reload(await standIn(t, dir, false), dir);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /refused: \/etc\/knockd\.conf:4/);
  assert.equal((await reload(Number.NaN, dir)).code, 64);
});

test('SIGHUPs before the daemon is ready are held and handled once when it is', async () => {
  const hangups = holdHangups();
  assert.equal(holdHangups(), hangups, 'one hold per process, whoever asks first');
  process.kill(process.pid, 'SIGHUP');
  process.kill(process.pid, 'SIGHUP');
  await new Promise((resolve) => setTimeout(resolve, 50));
  let handled = 0;
  const handler = () => handled++;
  hangups.release(handler);
  assert.equal(handled, 1);
  process.kill(process.pid, 'SIGHUP');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(handled, 2);
  process.off('SIGHUP', handler);
});
