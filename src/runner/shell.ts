/**
 * Runs a door's command the way knockd does (`/bin/sh -c command`), but bounded: each command gets its
 * own process group, so a command that hangs is killed together with everything it started.
 */
import { spawn } from 'node:child_process';

export interface RunCommandOptions {
  /** After this, the whole process group gets SIGTERM, then SIGKILL after `killGraceMs`. */
  timeoutMs: number;
  /** Defaults to the daemon's environment, as knockd's system(3) does. */
  env?: NodeJS.ProcessEnv;
  killGraceMs?: number;
  /** Bytes kept of each of stdout and stderr. */
  outputLimit?: number;
  /** Aborting kills the whole process group at once (the daemon is stopping: no command may outlive it). */
  signal?: AbortSignal;
  shell?: string;
  /** Written to the program's stdin (`ipset restore`); without it stdin is empty. */
  input?: string;
}

export interface CommandResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** True when more output came than `outputLimit` bytes. */
  outputTruncated: boolean;
  durationMs: number;
  /** The shell could not be started at all (fork failed, /bin/sh missing); exitCode and signal are null. */
  spawnError: string | null;
}

export const DEFAULT_OUTPUT_LIMIT = 4096;
export const DEFAULT_KILL_GRACE_MS = 2000;
/** After the shell exits, how long we still read output that its background children may hold open. */
const OUTPUT_SETTLE_MS = 100;

export function runCommand(command: string, options: RunCommandOptions): Promise<CommandResult> {
  return runProgram([options.shell ?? '/bin/sh', '-c', command], options);
}

/** Runs `argv[0]` (looked up on PATH) with the rest as its arguments, no shell, bounded the same way. */
export function runProgram(argv: readonly string[], options: RunCommandOptions): Promise<CommandResult> {
  const limit = options.outputLimit ?? DEFAULT_OUTPUT_LIMIT;
  const grace = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const started = performance.now();
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(argv[0] ?? '', argv.slice(1), {
        detached: true,
        // stdin is a pipe that ends at once when there is no input: EOF, like /dev/null.
        stdio: ['pipe', 'pipe', 'pipe'],
        env: options.env ?? process.env,
      });
    } catch (error) {
      resolve(failedToStart(error, started));
      return;
    }
    const stdout = new CappedBuffer(limit);
    const stderr = new CappedBuffer(limit);
    child.stdout.on('data', (chunk: Buffer) => stdout.add(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.add(chunk));
    // A program that exits without reading its input must not crash us with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input);

    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    let afterKill: (() => void) | undefined;
    const pgid = child.pid;
    const killGroup = (signal: NodeJS.Signals | 0): boolean => {
      if (pgid === undefined) return false;
      try {
        process.kill(-pgid, signal);
        return true;
      } catch {
        return false; // ESRCH: the group is already gone.
      }
    };
    const onAbort = () => killGroup('SIGKILL');
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    const timeoutTimer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      // SIGKILL the group even if the shell exits on SIGTERM: a child that ignores SIGTERM stays in the group.
      killTimer = setTimeout(() => {
        killTimer = undefined;
        killGroup('SIGKILL');
        afterKill?.();
      }, grace);
    }, options.timeoutMs);

    let settled = false;
    const finish = (result: CommandResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timeoutTimer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(result);
    };

    child.once('error', (error) => {
      clearTimeout(killTimer);
      finish(failedToStart(error, started));
    });
    child.once('exit', (code, signal) => {
      let completed = false;
      const complete = () => {
        if (completed) return;
        completed = true;
        child.stdout.destroy();
        child.stderr.destroy();
        // A timed-out command is only reported once its whole group is gone or has been sent SIGKILL.
        if (timedOut && killTimer !== undefined && killGroup(0)) {
          afterKill = () => report();
          return;
        }
        clearTimeout(killTimer);
        report();
      };
      const report = () =>
        finish({
          exitCode: code,
          signal,
          timedOut,
          stdout: stdout.text(),
          stderr: stderr.text(),
          outputTruncated: stdout.truncated || stderr.truncated,
          durationMs: Math.round(performance.now() - started),
          spawnError: null,
        });
      // Output may still be in the pipes; a background child can also hold them open forever, so wait a little only.
      let pending = 2;
      const settle = setTimeout(complete, OUTPUT_SETTLE_MS);
      const onClose = () => {
        if (--pending === 0) {
          clearTimeout(settle);
          complete();
        }
      };
      if (child.stdout.closed) pending--;
      else child.stdout.once('close', onClose);
      if (child.stderr.closed) pending--;
      else child.stderr.once('close', onClose);
      if (pending === 0) {
        clearTimeout(settle);
        complete();
      }
    });
  });
}

/** The result of a command that never ran: the shell could not be started at all. */
export function failedToStart(error: unknown, started: number): CommandResult {
  return {
    exitCode: null,
    signal: null,
    timedOut: false,
    stdout: '',
    stderr: '',
    outputTruncated: false,
    durationMs: Math.round(performance.now() - started),
    spawnError: error instanceof Error ? error.message : String(error),
  };
}

class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(private readonly limit: number) {}

  add(chunk: Buffer): void {
    const room = this.limit - this.size;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.size += kept.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
