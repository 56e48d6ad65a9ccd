import type { Config, Door, Family } from '../core/types.js';
import { NfknockError } from '../core/errors.js';
import { knockMarks, type KnockMark } from './marks.js';
import { validateRulesOptions, type RulesOptions } from './options.js';
import { iptablesRules } from './iptables.js';
import { nftRules } from './nft.js';
import { ipsetRules } from './ipset.js';

export type { RulesOptions, FloodGuard, ServicePort, KnockHook } from './options.js';
export { KNOCK_HOOKS } from './options.js';
export { LOG_PREFIX_MAX, NFLOG_PREFIX_MAX } from './options.js';
export { knockMarks, type KnockMark } from './marks.js';
export { iptablesHookCommand, KNOCK_CHAIN } from './iptables.js';
export { nftDoorCommands, NFT_TABLE } from './nft.js';

/**
 * Kernel rules that log exactly the knock ports of every door, as iptables-restore / ip6tables-restore
 * text or an `nft -f` ruleset. Pure: the caller reads one-time sequence files and writes the output.
 */
export function generateRules(config: Config, options: RulesOptions): string {
  validateRulesOptions(options);
  if (config.doors.length === 0) {
    throw new NfknockError('NFK_CONFIG_INVALID', 'the configuration has no doors: there is nothing to mark', {
      location: { file: config.file },
    });
  }
  if (options.format === 'ipset') return ipsetRules();
  const groups = markGroups(config, options);
  return options.format === 'nft' ? nftRules(groups, options) : iptablesRules(groups, options);
}

/** Marks of doors knocked at one destination (undefined: any destination, the input hook). */
export interface MarkGroup {
  destination?: string;
  family?: Family;
  marks: KnockMark[];
}

/**
 * On the input hook every door's ports are one set of marks. In the forward path each door is marked
 * only for its Target: doors are grouped by Target (a Map, one pass) and each group's marks merged.
 */
export function markGroups(config: Config, options: Pick<RulesOptions, 'hook' | 'oneTimeSteps'>): MarkGroup[] {
  if ((options.hook ?? 'input') === 'input') return [{ marks: knockMarks(config, options.oneTimeSteps) }];
  const byTarget = new Map<string, Door[]>();
  for (const door of config.doors) {
    if (door.target === undefined) {
      throw new NfknockError('NFK_CONFIG_INVALID', `door [${door.name}] has no Target: with --hook ${options.hook} each door is marked for its internal host's address (Target = ...)`, {
        location: { file: door.file ?? config.file, line: door.line },
      });
    }
    const doors = byTarget.get(door.target) ?? [];
    doors.push(door);
    byTarget.set(door.target, doors);
  }
  return [...byTarget].map(([destination, doors]) => ({
    destination,
    family: destination.includes(':') ? 6 : 4,
    marks: knockMarks({ ...config, doors }, options.oneTimeSteps),
  }));
}
