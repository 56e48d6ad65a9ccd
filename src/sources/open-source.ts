import type { Logger } from 'pino';
import type { Clock, Config } from '../core/types.js';
import { filteringSink } from './filtering-sink.js';
import { KernelLogFileSource } from './kernel-log-file.js';
import { KmsgSource } from './kmsg.js';
import { NflogSource } from './nflog.js';
import type { KnockSource, SourceSink } from './types.js';
import { checkKernelLogSource, GuardedSource, openKernelLog, type KernelLogTrust } from './kernel-log-guard.js';

export interface SourceEdges {
  clock: Clock;
  logger: Logger;
  onlyIpV4: boolean;
  kernelLogTrust: KernelLogTrust;
}

/**
 * The source `[options]` asks for, delivering through the daemon's filters (Interface, -4). Kernel-log
 * sources are guarded: the nf_log_all_netns and KernelLog checks run at every start and while they run.
 */
export function openKnockSource(config: Config, sink: SourceSink, edges: SourceEdges): KnockSource {
  const source = openUnguarded(config, sink, edges);
  if (config.options.source === 'nflog') return source;
  const trust = edges.kernelLogTrust;
  if (trust.acceptSharedKernelLog) edges.logger.warn({ kernelLog: config.options.kernelLog }, '--accept-shared-kernel-log: a KernelLog that other writers share lets local users forge knocks');
  return new GuardedSource(source, () => checkKernelLogSource(config.options, trust), sink);
}

function openUnguarded(config: Config, sink: SourceSink, edges: SourceEdges): KnockSource {
  const { options } = config;
  const filtered = filteringSink(sink, { ...(options.interface === undefined ? {} : { interface: options.interface }), onlyIpV4: edges.onlyIpV4 });
  const common = { prefix: options.logPrefix, sink: filtered, clock: edges.clock, log: edges.logger };
  switch (options.source) {
    case 'nflog':
      return new NflogSource({ ...common, group: options.nflogGroup });
    case 'kmsg':
      return new KmsgSource(common);
    case 'file':
      return new KernelLogFileSource({ ...common, path: options.kernelLog as string, openFile: (path) => openKernelLog(path, edges.kernelLogTrust) });
  }
}
