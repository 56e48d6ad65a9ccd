/**
 * When can a door's firewall rule no longer exist? Door rules live in the kernel: a reboot forgets
 * them, and loading a whole table (nfknock-firewall.service: iptables-restore without --noflush, or an
 * nft table that deletes itself first) replaces them. Each pending close records the boot and the
 * firewall generation it was opened under; when its stop command fails and either has changed since,
 * the failure is what a missing rule looks like, not a door left open.
 *
 * Why not at once: a stop command may also fail for a passing reason (the xtables lock held by
 * another iptables) right after a reload that did not touch its rule (a fragment loaded with
 * --noflush, rules in another table, an ipset). So the stop command always runs, and only a second
 * failure with the evidence counts the door as closed; a door whose rule survived is removed by the
 * first attempt that succeeds. Without evidence (an older state file, no generation file) nothing
 * changes: the stop command is retried for as long as it fails.
 */

export interface FirewallEpoch {
  /** /proc/sys/kernel/random/boot_id: new at every boot. */
  bootId?: string;
  /** Written by nfknock-firewall.service after every successful load of the rules. */
  generation?: string;
}

/** Failed attempts, with the evidence, after which a stop command's door counts as closed. */
export const FAILED_STOPS_WITH_EVIDENCE = 2;

const TOKEN = /^[A-Za-z0-9._:-]{1,128}$/;

/** A recorded epoch from the state file; anything malformed is dropped (no evidence, never a guess). */
export function parseFirewallEpoch(raw: unknown): FirewallEpoch | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const { bootId, generation } = raw as Record<string, unknown>;
  const epoch: FirewallEpoch = {};
  if (typeof bootId === 'string' && TOKEN.test(bootId)) epoch.bootId = bootId;
  if (typeof generation === 'string' && TOKEN.test(generation)) epoch.generation = generation;
  return epoch.bootId === undefined && epoch.generation === undefined ? undefined : epoch;
}

/** The text read from a boot id or generation file, as a token, or undefined when unusable. */
export function epochToken(text: string | undefined): string | undefined {
  const token = text?.trim();
  return token !== undefined && TOKEN.test(token) ? token : undefined;
}

/**
 * Why the rule a door's stop command removes cannot exist any more, or undefined when nothing says so.
 * Pure: `openedUnder` is what the pending close recorded, `now` what the host reports now.
 */
export function ruleWasReset(openedUnder: FirewallEpoch | undefined, now: FirewallEpoch): string | undefined {
  if (openedUnder === undefined) return undefined;
  if (openedUnder.bootId !== undefined && now.bootId !== undefined && openedUnder.bootId !== now.bootId) {
    return 'the host has rebooted since the door opened';
  }
  if (openedUnder.generation !== undefined && now.generation !== undefined && openedUnder.generation !== now.generation) {
    return 'the firewall was loaded again since the door opened';
  }
  return undefined;
}
