import type { Logger } from 'pino';
import type { Clock, Config } from '../core/types.js';
import { filteringSink } from './filtering-sink.js';
import { KernelLogFileSource } from './kernel-log-file.js';
import { KmsgSource } from './kmsg.js';
import { NflogSource } from './nflog.js';
import type { KnockSource, SourceSink } from './types.js';

/** The source `[options]` asks for, delivering through the daemon's filters (Interface, -4). */
export function openKnockSource(config: Config, sink: SourceSink, edges: { clock: Clock; logger: Logger; onlyIpV4: boolean }): KnockSource {
  const { options } = config;
  const filtered = filteringSink(sink, { ...(options.interface === undefined ? {} : { interface: options.interface }), onlyIpV4: edges.onlyIpV4 });
  const common = { prefix: options.logPrefix, sink: filtered, clock: edges.clock, log: edges.logger };
  switch (options.source) {
    case 'nflog':
      return new NflogSource({ ...common, group: options.nflogGroup });
    case 'kmsg':
      return new KmsgSource(common);
    case 'file':
      return new KernelLogFileSource({ ...common, path: options.kernelLog as string });
  }
}
