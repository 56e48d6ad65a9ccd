/**
 * The attacker of issue 10's tests: an unprivileged local user (`nobody`), run with setpriv from a
 * root test. Non-root runs skip these tests (they cannot switch users).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export const NOBODY = 65534;
export const nobodySkip: string | false = process.geteuid?.() === 0 ? false : 'needs root to act as the unprivileged user nobody';

const SETPRIV = ['--reuid=65534', '--regid=65534', '--clear-groups'];

/** Runs `sh -c script` as nobody and returns its status and output. */
export function asNobody(script: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('setpriv', [...SETPRIV, 'sh', '-c', script], { encoding: 'utf8', timeout: 15_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Starts `sh -c script` as nobody in the background; kill it with `stopNobody`. */
export function spawnAsNobody(script: string): ChildProcess {
  return spawn('setpriv', [...SETPRIV, 'sh', '-c', script], { stdio: 'ignore', detached: true });
}

export function stopNobody(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
