/**
 * The edge of `check --live`: runs iptables-save, ip6tables-save and `nft -j list ruleset` (read-only)
 * in the current network namespace, and compares with what the config needs. A tool that is not
 * installed reads as an empty firewall; none at all is an error.
 */
import type { Config, Family } from '../core/types.js';
import type { KnockHook } from '../rules/generate.js';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import { runFirewallTool } from '../runner/firewall-tool.js';
import { compareLive, doorSets, type Drift, type LiveExpectation, type LiveSets } from './live.js';
import { IPTABLES_TABLE_NAMES, parseIptablesSave, parseNftJson, parseNftSets, type LiveMark } from './live-parse.js';

interface ToolOutput {
  ran: boolean;
  stdout: string;
}

/** A tool that is not installed reads as an empty ruleset. */
async function runTool(command: string, args: string[]): Promise<ToolOutput> {
  try {
    return { ran: true, stdout: await runFirewallTool([command, ...args]) };
  } catch (error) {
    if (error instanceof NfknockError && error.code === ErrorCodes.MISSING_TOOL) return { ran: false, stdout: '' };
    throw error;
  }
}

/** Every knock-like mark and every set the kernel has loaded, from whichever of the tools are installed. */
export async function readLiveFirewall(families: readonly Family[], ipsetNeeded: boolean): Promise<{ marks: LiveMark[]; sets: LiveSets }> {
  const marks: LiveMark[] = [];
  const iptablesTables = new Set<string>();
  let ranAny = false;
  for (const family of families) {
    const tool = family === 4 ? 'iptables-save' : 'ip6tables-save';
    const output = await runTool(tool, []);
    ranAny ||= output.ran;
    marks.push(...parseIptablesSave(output.stdout, family));
    // iptables-nft keeps its tables in nftables too: read them once, through iptables-save.
    if (/\(nf_tables\)/.test(output.stdout)) {
      for (const match of output.stdout.matchAll(/^\*(\S+)$/gm)) {
        if (IPTABLES_TABLE_NAMES.has(match[1] as string)) iptablesTables.add(`${family === 4 ? 'ip' : 'ip6'}/${match[1] as string}`);
      }
    }
  }
  const nft = await runTool('nft', ['-j', 'list', 'ruleset']);
  ranAny ||= nft.ran;
  const sets: LiveSets = {};
  if (nft.ran && nft.stdout.trim() !== '') {
    marks.push(...parseNftJson(nft.stdout, iptablesTables).filter((mark) => families.includes(mark.family)));
    sets.nft = parseNftSets(nft.stdout);
  } else if (nft.ran) sets.nft = new Set();
  if (!ranAny) throw new NfknockError(ErrorCodes.MISSING_TOOL, 'none of iptables-save, ip6tables-save, nft is installed: there is no firewall to compare');
  if (ipsetNeeded) {
    const ipset = await runTool('ipset', ['list', '-n']);
    if (ipset.ran) sets.ipset = new Set(ipset.stdout.split('\n').map((line) => line.trim()).filter(Boolean));
  }
  return { marks, sets };
}

export async function checkLiveFirewall(config: Config, expectation: LiveExpectation): Promise<Drift[]> {
  const { marks, sets } = await readLiveFirewall(expectation.families, usesIpset(config));
  return compareLive(config, expectation, marks, sets);
}

const usesIpset = (config: Config) => doorSets(config).some((set) => set.kind === 'ipset');

/** What the daemon's own source needs: NFLOG with its group, or LOG lines in the kernel log. */
export function daemonExpectation(config: Config): Omit<LiveExpectation, 'hook' | 'families'> {
  const { options } = config;
  return { target: options.source === 'nflog' ? 'nflog' : 'log', group: options.nflogGroup, prefix: options.logPrefix };
}

/** The part of the daemon's logger this check uses. */
export interface DriftLogger {
  warn(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

/**
 * The daemon's view of `check --live`, logged as one warning at start and after each reload. The
 * daemon does not know where the marks were meant to be: a gateway config (every door has a Target)
 * is compared with each hook and the closest is reported. Never throws: a host without a firewall
 * tool still serves knocks.
 */
export async function logFirewallDrift(config: Config, logger: DriftLogger, oneTimeSteps: () => Promise<LiveExpectation['oneTimeSteps']>): Promise<void> {
  try {
    const hooks: KnockHook[] = config.doors.length > 0 && config.doors.every((door) => door.target !== undefined) ? ['input', 'forward', 'prerouting'] : ['input'];
    const families: Family[] = [4, 6];
    const { marks: live, sets } = await readLiveFirewall(families, usesIpset(config));
    const steps = await oneTimeSteps();
    let best: Drift[] | undefined;
    for (const hook of hooks) {
      const drifts = compareLive(config, { ...daemonExpectation(config), hook, families, oneTimeSteps: steps }, live, sets);
      if (best === undefined || drifts.length < best.length) best = drifts;
    }
    if (!best || best.length === 0) return;
    logger.warn(
      { differences: best.map((d) => d.message), fixes: [...new Set(best.map((d) => d.fix))] },
      `the loaded firewall does not mark what the configuration needs (${best.length} difference${best.length === 1 ? '' : 's'}; nfknock check --live shows them)`,
    );
  } catch (error) {
    logger.debug({ err: error }, 'could not compare the loaded firewall with the configuration');
  }
}
