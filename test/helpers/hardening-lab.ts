/**
 * Small additions to daemon-lab.ts for the hardening e2e tests: signals to the daemon's node process
 * (not its process group, which holds the door commands too), its RSS, log counting, config files.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { nfknockPath, type RunningDaemon } from './daemon-lab.js';
import { waitFor, type Lab } from './lab.js';

const run = promisify(execFile);

export { SEED, serviceDoor } from './daemon-lab.js';

/**
 * The pid of nfknockd's node process. `ip netns exec` execs its command in place in current iproute2,
 * but older versions fork: then the node process is its child.
 */
export async function nodePidOf(child: ChildProcess): Promise<number> {
  const pid = child.pid;
  if (pid === undefined) throw new Error('the daemon has no pid');
  return waitFor(
    async () => {
      const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
      if (comm === 'node' || comm.startsWith('node')) return pid;
      const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean);
      for (const candidate of children) {
        const name = (await readFile(`/proc/${candidate}/comm`, 'utf8').catch(() => '')).trim();
        if (name.startsWith('node')) return Number(candidate);
      }
      return undefined;
    },
    { timeoutMs: 3000, description: `the node process of pid ${pid}` },
  );
}

/** VmRSS in KiB. */
export async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]);
}

export async function signalDaemon(daemon: RunningDaemon, signal: NodeJS.Signals): Promise<void> {
  process.kill(await nodePidOf(daemon.child), signal);
}

/** Resolves with the exit code once the daemon has exited; rejects after `timeoutMs`. */
export async function exitOf(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }> {
  const started = Date.now();
  if (child.exitCode === null && child.signalCode === null) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the daemon did not exit within ${timeoutMs} ms`)), timeoutMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  return { code: child.exitCode, signal: child.signalCode, afterMs: Date.now() - started };
}

export function countOf(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** Waits until the daemon's knockd-format log contains `needle` at least `times` times. */
export async function waitForLog(daemon: RunningDaemon, needle: string, options: { times?: number; timeoutMs?: number } = {}): Promise<string> {
  const times = options.times ?? 1;
  try {
    return await waitFor(async () => {
      const log = await daemon.log();
      return countOf(log, needle) >= times ? log : undefined;
    }, { timeoutMs: options.timeoutMs ?? 5000 });
  } catch {
    throw new Error(`log never had ${JSON.stringify(needle)} ${times} time(s):\n${await daemon.log()}\n--- stdout/stderr ---\n${daemon.output()}`);
  }
}

/** Waits until the daemon's pino output (stdout/stderr) matches. */
export async function waitForOutputText(daemon: RunningDaemon, pattern: RegExp, timeoutMs = 5000): Promise<string> {
  try {
    return await waitFor(() => (pattern.test(daemon.output()) ? daemon.output() : undefined), { timeoutMs });
  } catch {
    throw new Error(`daemon output never matched ${pattern}:\n${daemon.output()}`);
  }
}

export async function writeConfig(daemon: RunningDaemon, text: string): Promise<void> {
  await writeFile(daemon.configPath, text, { mode: 0o600 });
}

export async function stateFiles(stateDir: string): Promise<string[]> {
  return (await readdir(stateDir).catch(() => [] as string[])).sort();
}

export async function pendingCloses(stateDir: string): Promise<string> {
  return readFile(join(stateDir, 'pending-closes.json'), 'utf8').catch(() => '');
}

/** Processes in a namespace whose command line contains `needle`. */
export async function processesIn(lab: Lab, side: 'server' | 'client', needle: string): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'pids', lab.namespaceOf(side)]);
  const found: string[] = [];
  for (const pid of stdout.split(/\s+/).filter(Boolean)) {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ').trim();
    if (cmdline.includes(needle)) found.push(`${pid} ${cmdline}`);
  }
  return found;
}

/** True when this build of `nfknock` has a `status` command (another engineer is writing it). */
export async function hasStatusCommand(): Promise<boolean> {
  const { stdout } = await run(process.execPath, [nfknockPath, '--help']);
  return /^\s+status\b/m.test(stdout);
}

/** `nfknock status --state-dir DIR`; never throws for a non-zero exit. */
export async function nfknockStatus(stateDir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [nfknockPath, 'status', '--state-dir', stateDir]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}
