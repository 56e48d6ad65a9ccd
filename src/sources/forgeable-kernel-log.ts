import { readFile } from 'node:fs/promises';
import type { Config } from '../core/types.js';
import { ErrorCodes, NfknockError } from '../core/errors.js';

const NF_LOG_ALL_NETNS = '/proc/sys/net/netfilter/nf_log_all_netns';

/**
 * With nf_log_all_netns = 1 the LOG lines of every network namespace reach the host's kernel log as
 * kernel messages, and nothing in a line says which namespace wrote it: any user who can make a user
 * namespace (unshare -Urn) can then forge knocks from any address. Only NFLOG stays in its namespace.
 */
export async function refuseForgeableKernelLog(config: Config, allowed: boolean): Promise<void> {
  if (config.options.source === 'nflog' || allowed) return;
  const value = await readFile(NF_LOG_ALL_NETNS, 'utf8').catch(() => '0');
  if (value.trim() !== '1') return;
  throw new NfknockError(
    ErrorCodes.SOURCE_UNAVAILABLE,
    `${NF_LOG_ALL_NETNS} is 1: every network namespace's LOG lines reach the kernel log, so any local user with a user namespace could forge knocks; ` +
      'set it to 0, use --source nflog, or pass --allow-netns-log if only trusted namespaces exist (a test lab)',
  );
}
