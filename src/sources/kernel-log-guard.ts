/**
 * What must hold before, and while, knocks are read from the kernel log (/dev/kmsg or a KernelLog
 * file): lines there carry no proof of who wrote them, so the daemon trusts them only when nobody
 * else can put a line there. Checked at every start of such a source (first start, reload, restart
 * after a failure) and again every `recheckMs` while it runs: a guard only at start is one a later
 * `sysctl -w` or a reload walks around.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { Options } from '../core/types.js';
import { checkAncestors, openTrustedFile, untrusted } from '../trust/open.js';
import { allowsGroupWritableAncestors, sharedKernelLogProblem } from '../trust/policy.js';
import type { KnockSource, SourceSink } from './types.js';

export const NF_LOG_ALL_NETNS = '/proc/sys/net/netfilter/nf_log_all_netns';
export const GUARD_RECHECK_MS = 5000;

export interface KernelLogTrust {
  /** --allow-netns-log: every network namespace on this host is trusted. */
  allowNetnsLog: boolean;
  /** --accept-shared-kernel-log: KernelLog may be a general syslog file (forgeable; logged at every start). */
  acceptSharedKernelLog: boolean;
  readSysctl?: () => Promise<string>;
}

/**
 * With nf_log_all_netns = 1 the LOG lines of every network namespace reach the host's kernel log as
 * kernel messages, and nothing in a line says which namespace wrote it: any user who can make a user
 * namespace (unshare -Urn) can then forge knocks from any address. Only NFLOG stays in its namespace.
 */
export async function checkKernelLogSource(options: Pick<Options, 'source' | 'kernelLog'>, trust: KernelLogTrust): Promise<void> {
  if (options.source === 'nflog') return;
  if (!trust.allowNetnsLog) {
    const value = await (trust.readSysctl ?? (() => readFile(NF_LOG_ALL_NETNS, 'utf8')))().catch(() => '0');
    if (value.trim() === '1') {
      throw new NfknockError(
        ErrorCodes.SOURCE_UNAVAILABLE,
        `${NF_LOG_ALL_NETNS} is 1: every network namespace's LOG lines reach the kernel log, so any local user with a user namespace could forge knocks; ` +
          'set it to 0, use --source nflog, or pass --allow-netns-log if only trusted namespaces exist (a test lab)',
      );
    }
  }
  if (options.source !== 'file' || options.kernelLog === undefined) return;
  const path = options.kernelLog;
  const shared = sharedKernelLogProblem(path);
  if (shared && !trust.acceptSharedKernelLog) throw untrusted(shared);
  const opened = await openKernelLog(path, trust).catch(async (error: unknown) => {
    // Absent (rsyslog creates it with the first knock): its directories must be trustworthy already.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await checkAncestors(dirname(path), allowsGroupWritableAncestors('kernel-log')).catch((inner: unknown) => {
      if ((inner as NodeJS.ErrnoException).code !== 'ENOENT') throw inner;
    });
    return undefined;
  });
  await opened?.close();
}

/** Opens the KernelLog the way the file source must: trusted, never through a symlink. */
export async function openKernelLog(path: string, trust: Pick<KernelLogTrust, 'acceptSharedKernelLog'>): Promise<FileHandle | undefined> {
  const kind = trust.acceptSharedKernelLog && sharedKernelLogProblem(path) ? 'shared-kernel-log' : 'kernel-log';
  return (await openTrustedFile(path, kind))?.handle;
}

export interface Interval {
  setInterval(fn: () => void, ms: number): NodeJS.Timeout;
  clearInterval(timer: NodeJS.Timeout): void;
}

/** A kmsg or file source that starts only when `check` passes and stops reading once it fails. */
export class GuardedSource implements KnockSource {
  private timer: NodeJS.Timeout | undefined;
  private failed = false;

  constructor(
    private readonly inner: KnockSource,
    private readonly check: () => Promise<void>,
    private readonly sink: SourceSink,
    private readonly timers: Interval = { setInterval, clearInterval },
    private readonly recheckMs = GUARD_RECHECK_MS,
  ) {}

  async start(): Promise<void> {
    await this.check();
    await this.inner.start();
    this.timer = this.timers.setInterval(() => void this.recheck(), this.recheckMs);
  }

  private async recheck(): Promise<void> {
    if (this.failed) return;
    try {
      await this.check();
    } catch (error) {
      if (this.failed) return;
      this.failed = true;
      this.stopTimer();
      await this.inner.close().catch(() => undefined);
      const failure = error instanceof NfknockError ? error : new NfknockError(ErrorCodes.SOURCE_FAILED, String(error), { cause: error });
      if (this.sink.failed) this.sink.failed(failure);
      else this.sink.trouble(failure);
    }
  }

  async close(): Promise<void> {
    this.stopTimer();
    if (!this.failed) await this.inner.close();
  }

  private stopTimer(): void {
    if (this.timer) this.timers.clearInterval(this.timer);
    this.timer = undefined;
  }
}
