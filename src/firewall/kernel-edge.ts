/**
 * The edge that asks the kernel: is nfknock's set there (at start and reload, so a door never opens
 * into nothing), and what does it hold (`nfknock status`). Runs nft/ipset without a shell.
 */
import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { Config, Family, FirewallKind } from '../core/types.js';
import { runProgram, type CommandResult, type RunCommandOptions } from '../runner/shell.js';
import { ipsetHasTimeouts, nftSetHasTimeouts, parseIpsetSave, parseNftSetJson, type KernelEntry } from './kernel-view.js';
import { describeCall, listCall, missingSetHint, type FirewallCall } from './operations.js';

export type ProgramRunner = (argv: readonly string[], options: RunCommandOptions) => Promise<CommandResult>;

const PROBE_TIMEOUT_MS = 10_000;
const FAMILIES: readonly Family[] = [4, 6];
const PACKAGE: Record<FirewallKind, string> = { nft: 'nftables', ipset: 'ipset' };

/** The backends the config's `Open =` doors use (empty when no door has one). */
export function firewallsInUse(config: Config): FirewallKind[] {
  return [...new Set(config.doors.flatMap((door) => (door.open ? [door.open.firewall] : [])))];
}

function tableOf(config: Config, firewall: FirewallKind): string | undefined {
  return firewall === 'nft' ? config.options.nftTable : undefined;
}

/**
 * Refuses to start (or reload) when an `Open =` door could not open: the tool is missing, or a set is
 * missing or cannot hold timeouts. Each error names the command that fixes it.
 */
export async function checkFirewallReady(config: Config, run: ProgramRunner = runProgram): Promise<void> {
  for (const firewall of firewallsInUse(config)) {
    for (const family of FAMILIES) {
      const call = listCall(firewall, family, tableOf(config, firewall));
      const result = await runCall(call, run);
      if (result.spawnError !== null) {
        throw new NfknockError(ErrorCodes.MISSING_TOOL, `${firewall} cannot be run (${result.spawnError}), but Open = doors use Firewall = ${firewall}: install it (apt-get install ${PACKAGE[firewall]})`);
      }
      if (result.exitCode !== 0 || result.timedOut) {
        throw new NfknockError(ErrorCodes.FIREWALL_UNAVAILABLE, `"${describeCall(call)}" failed (${firstLine(result.stderr) || `exit ${result.exitCode}`}): Open = doors have no set to open into; ${missingSetHint(firewall, tableOf(config, firewall))}`);
      }
      const timeouts = firewall === 'nft' ? nftSetHasTimeouts(result.stdout) : ipsetHasTimeouts(result.stdout);
      if (!timeouts) {
        throw new NfknockError(ErrorCodes.FIREWALL_UNAVAILABLE, `"${describeCall(call)}" shows a set without timeouts, so the kernel could not close Open = doors by itself; reload it from this nfknock: ${missingSetHint(firewall, tableOf(config, firewall))}`);
      }
    }
  }
}

export type KernelView = { firewall: FirewallKind; available: true; entries: KernelEntry[] } | { firewall: FirewallKind; available: false; reason: string };

/** What the kernel holds in nfknock's sets of `firewall`, for `nfknock status`. */
export async function readKernelView(firewall: FirewallKind, run: ProgramRunner = runProgram, nftTable?: string): Promise<KernelView> {
  const entries: KernelEntry[] = [];
  for (const family of FAMILIES) {
    const call = listCall(firewall, family, nftTable);
    const result = await runCall(call, run);
    if (result.spawnError !== null) return { firewall, available: false, reason: `${firewall} is not installed` };
    if (result.exitCode !== 0 || result.timedOut) return { firewall, available: false, reason: `${describeCall(call)}: ${firstLine(result.stderr) || `exit ${result.exitCode}`}` };
    const parsed = firewall === 'nft' ? parseNftSetJson(result.stdout) : parseIpsetSave(result.stdout);
    if (!parsed.ok) return { firewall, available: false, reason: `${describeCall(call)}: ${parsed.reason}` };
    entries.push(...parsed.entries);
  }
  return { firewall, available: true, entries };
}

/** Runs one call to its end (the config-less closing of recorded doors, and the probes above). */
export function runCall(call: FirewallCall, run: ProgramRunner = runProgram, timeoutMs = PROBE_TIMEOUT_MS): Promise<CommandResult> {
  return run(call.argv, { timeoutMs, outputLimit: 1 << 20, ...(call.input === undefined ? {} : { input: call.input }) });
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}
