/** The edge of src/core/firewall-epoch.ts: reads the boot id and the firewall generation. */
import { readFileSync } from 'node:fs';
import { epochToken, type FirewallEpoch } from '../core/firewall-epoch.js';

export const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';
/** nfknock-firewall.service writes a new token here after each load (its RuntimeDirectory). */
export const FIREWALL_GENERATION_FILE = '/run/nfknock-firewall/generation';

function readToken(path: string): string | undefined {
  try {
    return epochToken(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Two small reads at each open and each failed stop; never throws (missing means no evidence). */
export function readFirewallEpoch(bootIdFile = BOOT_ID_FILE, generationFile = FIREWALL_GENERATION_FILE): FirewallEpoch {
  const epoch: FirewallEpoch = {};
  const bootId = readToken(bootIdFile);
  const generation = readToken(generationFile);
  if (bootId !== undefined) epoch.bootId = bootId;
  if (generation !== undefined) epoch.generation = generation;
  return epoch;
}
