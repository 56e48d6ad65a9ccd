import type { Config } from '../core/types.js';
import { NfknockError } from '../core/errors.js';
import { knockMarks } from './marks.js';
import { validateRulesOptions, type RulesOptions } from './options.js';
import { iptablesRules } from './iptables.js';
import { nftRules } from './nft.js';
import { ipsetRules } from './ipset.js';

export type { RulesOptions, FloodGuard, ServicePort } from './options.js';
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
  const marks = knockMarks(config, options.oneTimeSteps);
  return options.format === 'nft' ? nftRules(marks, options) : iptablesRules(marks, options);
}
