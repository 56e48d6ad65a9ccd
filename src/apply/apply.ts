/**
 * `nfknock apply`, the edge: iptables-apply without a terminal. The current ruleset is saved, the new
 * file loaded, and a detached timer (its own session, so an SSH hangup does not reach it) restores
 * the saved ruleset unless `nfknock apply --confirm` claims the pending apply first. The runtime dir
 * (root's alone) holds the pending apply; claiming it is one rename, so confirm and timer cannot both win.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import { runFirewallTool } from '../runner/firewall-tool.js';
import { KIND_COMMANDS, restoreText, type RulesKind } from './kinds.js';

export const DEFAULT_RUNTIME_DIR = '/run/nfknock/apply';
const PENDING = 'pending.json';
const LAST = 'last.json';

export interface PendingApply {
  id: string;
  kind: RulesKind;
  file: string;
  appliedAt: number;
  deadline: number;
  timerPid?: number;
}

export interface ApplyOutcome {
  id: string;
  outcome: 'confirmed' | 'rolled-back' | 'rollback-failed';
  at: number;
  detail?: string;
}

/** Every later path is inside a directory only this user can change, checked up to /. */
async function secureRuntimeDir(dir: string): Promise<void> {
  if (process.geteuid?.() !== 0) throw new NfknockError(ErrorCodes.PERMISSION, 'nfknock apply changes the firewall: run it as root');
  if (!dir.startsWith('/')) throw new NfknockError(ErrorCodes.USAGE, `--runtime-dir must be absolute: ${dir}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (let path = dir; ; path = dirname(path)) {
    const info = await lstat(path);
    const own = path === dir;
    const trusted = info.uid === 0;
    const writable = (info.mode & 0o022) !== 0;
    // An ancestor may be a sticky world-writable dir owned by root (/tmp); the runtime dir itself is 0700.
    const stickyRoot = (info.mode & 0o1000) !== 0 && info.uid === 0;
    if (info.isSymbolicLink() || !info.isDirectory() || !trusted || (own ? (info.mode & 0o077) !== 0 : writable && !stickyRoot)) {
      throw new NfknockError(ErrorCodes.PERMISSION, `${path} must be a directory owned by root that group/other cannot change${own ? ' (mode 0700)' : ''}; refusing to keep the saved ruleset there`);
    }
    if (path === '/') return;
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface ApplyRequest {
  file: string;
  text: string;
  kind: RulesKind;
  confirmWithinSeconds: number;
  runtimeDir: string;
}

/** Loads the file with a rollback armed; resolves once the file is loaded and the timer waits. */
export async function applyWithRollback(request: ApplyRequest): Promise<PendingApply> {
  const { runtimeDir: dir, kind, text } = request;
  await secureRuntimeDir(dir);
  const commands = KIND_COMMANDS[kind];
  if (commands.test) {
    await runFirewallTool(commands.test, text).catch((error: unknown) => {
      throw new NfknockError(ErrorCodes.RULES_REJECTED, `${request.file} is not valid ${kind} input; nothing was changed: ${(error as Error).message}`, { cause: error });
    });
  }
  const id = `${Date.now()}-${randomBytes(4).toString('hex')}`;
  const pending: PendingApply = { id, kind, file: request.file, appliedAt: Date.now(), deadline: Date.now() + request.confirmWithinSeconds * 1000 };
  // The exclusive create is the lock: one apply waits for confirmation at a time.
  try {
    await writeFile(join(dir, PENDING), JSON.stringify(pending), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const other = await readJson<PendingApply>(join(dir, PENDING));
    const why = other && isAlive(other.timerPid) ? `its rollback runs at ${new Date(other.deadline).toISOString()}` : 'and its timer is gone: confirm it (--confirm) or roll it back (--rollback)';
    throw new NfknockError(ErrorCodes.APPLY_BUSY, `apply ${other?.id ?? '?'} of ${other?.file ?? '?'} still waits for confirmation; ${why}`);
  }
  try {
    const saved = await runFirewallTool(commands.save);
    const restore = restoreText(kind, saved, text);
    // A rollback that cannot load is no rollback: refuse before anything changes.
    if (commands.test) await runFirewallTool(commands.test, restore);
    await writeFile(join(dir, `restore-${id}`), restore, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    await rm(join(dir, PENDING), { force: true });
    throw error;
  }
  // The timer runs before anything changes: if this process dies during the load, it still restores.
  try {
    pending.timerPid = startTimer(dir, id);
  } catch (error) {
    await rm(join(dir, PENDING), { force: true });
    await rm(join(dir, `restore-${id}`), { force: true });
    throw error;
  }
  await writeFile(join(dir, `${PENDING}.tmp`), JSON.stringify(pending), { mode: 0o600 });
  await rename(join(dir, `${PENDING}.tmp`), join(dir, PENDING));
  try {
    await runFirewallTool(commands.load, text);
  } catch (error) {
    // A partial load (ipset) or a race: put the saved ruleset back at once.
    const outcome = await rollback(dir, id, 'the new ruleset failed to load');
    if (isAlive(pending.timerPid)) process.kill(pending.timerPid, 'SIGTERM');
    throw new NfknockError(ErrorCodes.COMMAND_FAILED, `${(error as Error).message}; ${outcome.outcome === 'rolled-back' ? 'the previous ruleset was restored' : outcome.detail ?? ''}`, { cause: error });
  }
  return pending;
}

/** A detached node process in its own session: an SSH hangup or a killed playbook does not stop it. */
function startTimer(dir: string, id: string): number {
  const cli = fileURLToPath(new URL('../cli/nfknock.js', import.meta.url));
  const child = spawn(process.execPath, [cli, 'apply', '--rollback-timer', id, '--runtime-dir', dir], { detached: true, stdio: 'ignore' });
  child.unref();
  if (child.pid === undefined) throw new NfknockError(ErrorCodes.COMMAND_FAILED, 'could not start the rollback timer');
  return child.pid;
}

/** Claims the pending apply `id` (or whichever is pending); undefined when someone else got it first. */
async function claim(dir: string, id?: string): Promise<PendingApply | undefined> {
  const pending = await readJson<PendingApply>(join(dir, PENDING));
  if (!pending || (id !== undefined && pending.id !== id)) return undefined;
  try {
    await rename(join(dir, PENDING), join(dir, `claimed-${pending.id}.json`));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return pending;
}

async function finish(dir: string, outcome: ApplyOutcome): Promise<void> {
  await writeFile(join(dir, LAST), JSON.stringify(outcome), { mode: 0o600 });
  await rm(join(dir, `claimed-${outcome.id}.json`), { force: true });
  await rm(join(dir, `restore-${outcome.id}`), { force: true });
}

async function rollback(dir: string, id: string, why: string): Promise<ApplyOutcome> {
  const pending = await claim(dir, id);
  if (!pending) throw new NfknockError(ErrorCodes.APPLY_NOTHING_PENDING, `apply ${id} is no longer pending`);
  const restore = await readFile(join(dir, `restore-${id}`), 'utf8');
  let outcome: ApplyOutcome;
  try {
    await runFirewallTool(KIND_COMMANDS[pending.kind].load, restore);
    outcome = { id, outcome: 'rolled-back', at: Date.now(), detail: why };
  } catch (error) {
    // Keep the saved ruleset for a human: rename it so the next apply does not remove it.
    await rename(join(dir, `restore-${id}`), join(dir, `failed-restore-${id}`)).catch(() => undefined);
    outcome = { id, outcome: 'rollback-failed', at: Date.now(), detail: `${why}; restoring failed: ${(error as Error).message}` };
  }
  await finish(dir, outcome);
  return outcome;
}

/** `--confirm`: keep the new ruleset. */
export async function confirmApply(dir: string): Promise<PendingApply> {
  await secureRuntimeDir(dir);
  const pending = await claim(dir);
  if (!pending) {
    const last = await readJson<ApplyOutcome>(join(dir, LAST));
    if (last && last.outcome !== 'confirmed') {
      throw new NfknockError(ErrorCodes.APPLY_ROLLED_BACK, `too late: apply ${last.id} was rolled back at ${new Date(last.at).toISOString()} (${last.detail ?? last.outcome})`);
    }
    throw new NfknockError(ErrorCodes.APPLY_NOTHING_PENDING, 'no apply waits for confirmation');
  }
  if (isAlive(pending.timerPid)) process.kill(pending.timerPid as number, 'SIGTERM');
  await finish(dir, { id: pending.id, outcome: 'confirmed', at: Date.now() });
  return pending;
}

/** `--rollback`: restore the saved ruleset now. */
export async function rollbackNow(dir: string): Promise<ApplyOutcome> {
  await secureRuntimeDir(dir);
  const pending = await readJson<PendingApply>(join(dir, PENDING));
  if (!pending) throw new NfknockError(ErrorCodes.APPLY_NOTHING_PENDING, 'no apply waits for confirmation');
  const outcome = await rollback(dir, pending.id, 'rolled back by hand (--rollback)');
  if (isAlive(pending.timerPid)) process.kill(pending.timerPid as number, 'SIGTERM');
  return outcome;
}

/** The detached timer's life: wait for the deadline, then restore unless confirmed meanwhile. */
export async function runRollbackTimer(dir: string, id: string): Promise<void> {
  process.on('SIGHUP', () => undefined);
  const pending = await readJson<PendingApply>(join(dir, PENDING));
  if (!pending || pending.id !== id) return;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, pending.deadline - Date.now())));
  await rollback(dir, id, `not confirmed within ${Math.round((pending.deadline - pending.appliedAt) / 1000)} s`).catch((error: unknown) => {
    if (!(error instanceof NfknockError && error.code === ErrorCodes.APPLY_NOTHING_PENDING)) throw error;
  });
}
