/**
 * nfknockd and systemd (Type=notify): readiness, early SIGHUPs, and the verdict of each reload.
 *
 * Why Type=notify with an ExecReload that waits, not Type=notify-reload: with notify-reload a
 * reload job ends with the next READY=1 and has no way to fail, so `systemctl reload` would
 * report success for a config the daemon refused. Here `ExecReload=nfknockd-reload $MAINPID` sends
 * SIGHUP and waits for the verdict the daemon writes to $RUNTIME_DIRECTORY/reload-status; a refused
 * config makes it exit 1 with the daemon's reason, so `systemctl reload` fails and says why. It also
 * works with systemd 252 (Debian 12), which has no notify-reload.
 *
 * Node has no unix datagram sockets, so READY=1 goes through systemd-notify(1) (NotifyAccess=all);
 * it waits until PID 1 has processed the message, so the message cannot be lost when it exits.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../state/atomic-file.js';
import type { Logger } from '../logging/logger.js';

export { holdHangups } from './hangup-hold.js';

export const RELOAD_STATUS_FILE = 'reload-status';

export interface ReloadVerdict {
  /** Changes with every reload the daemon finishes. */
  generation: string;
  ok: boolean;
  message: string;
}

/** Tells systemd the daemon is ready (knocks are being read); nothing to do outside systemd. */
export async function notifyReady(logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!env['NOTIFY_SOCKET']) return;
  const failure = await new Promise<string | undefined>((resolve) => {
    const child = spawn('systemd-notify', ['--ready', 'STATUS=reading knocks'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-500)));
    child.once('error', (error) => resolve(error.message));
    child.once('exit', (code) => resolve(code === 0 ? undefined : `exit status ${code}: ${stderr.trim()}`));
  });
  if (failure !== undefined) logger.error({ failure }, 'cannot tell systemd that nfknockd is ready (systemd-notify); the unit will time out');
}

/** Writes each reload's verdict where nfknockd-reload waits for it; nothing outside a RuntimeDirectory. */
export class ReloadStatus {
  private count = 0;
  constructor(
    private readonly logger: Logger,
    private readonly directory: string | undefined = process.env['RUNTIME_DIRECTORY']?.split(':')[0],
  ) {}

  async write(ok: boolean, message: string): Promise<void> {
    if (this.directory === undefined) return;
    const verdict: ReloadVerdict = { generation: `${process.pid}-${++this.count}`, ok, message };
    await writeFileAtomic(join(this.directory, RELOAD_STATUS_FILE), `${JSON.stringify(verdict)}\n`, 0o644).catch((error: unknown) =>
      this.logger.error({ err: error }, 'cannot write the reload verdict; systemctl reload will time out'),
    );
  }
}

export async function readReloadVerdict(directory: string): Promise<ReloadVerdict | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(directory, RELOAD_STATUS_FILE), 'utf8')) as Partial<ReloadVerdict>;
    if (typeof parsed.generation !== 'string' || typeof parsed.ok !== 'boolean' || typeof parsed.message !== 'string') return undefined;
    return { generation: parsed.generation, ok: parsed.ok, message: parsed.message };
  } catch {
    return undefined;
  }
}
