/**
 * `nfknock check` reports what nfknockd would refuse to trust (src/trust/), by the same functions:
 * the config, secret and one-time files are refused by loadConfig already; this adds the files and
 * directories the daemon opens only when it starts (KernelLog, StateDir, LogFile, PidFile) and the
 * nf_log_all_netns guard of the kernel-log sources.
 */
import { constants } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../core/types.js';
import { checkKernelLogSource } from '../sources/kernel-log-guard.js';
import { checkAncestors, openTrustedFile, TrustedDirectory } from '../trust/open.js';
import { allowsGroupWritableAncestors, type TrustKind } from '../trust/policy.js';

export interface TrustCheckOptions {
  allowNetnsLog?: boolean;
  acceptSharedKernelLog?: boolean;
}

/** One sentence per problem, each naming the file, what is wrong and the fix. */
export async function trustProblems(config: Config, options: TrustCheckOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  const note = async (check: () => Promise<unknown>) => {
    try {
      await check();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      problems.push(error instanceof Error ? error.message : String(error));
    }
  };
  const { source, kernelLog, stateDir, logFile, pidFile } = config.options;
  const trust = { allowNetnsLog: options.allowNetnsLog === true, acceptSharedKernelLog: options.acceptSharedKernelLog === true };
  // The namespace guard and the file's own trust, reported separately so that both show.
  if (source !== 'nflog') await note(() => checkKernelLogSource({ source: 'kmsg' }, trust));
  if (kernelLog !== undefined) await note(() => checkKernelLogSource({ source: 'file', kernelLog }, { ...trust, allowNetnsLog: true }));
  await note(async () => {
    const dir = await TrustedDirectory.open(stateDir, 'state-dir').catch(async (error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await checkAncestors(dirname(stateDir));
    });
    await dir?.close();
  });
  for (const [path, kind] of [[logFile, 'log-file'], [pidFile, 'pid-file']] as const) {
    if (path !== undefined) await note(() => checkWritableFile(path, kind));
  }
  return problems;
}

async function checkWritableFile(path: string, kind: TrustKind): Promise<void> {
  const opened = await openTrustedFile(path, kind, constants.O_RDONLY | constants.O_NONBLOCK).catch(async (error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await checkAncestors(dirname(path), allowsGroupWritableAncestors(kind));
  });
  await opened?.handle.close();
}
