import { Command, Option } from 'commander';
import type { Config } from '../core/types.js';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import { loadConfig } from '../config/load.js';
import { oneTimeSteps } from '../state/one-time-file.js';
import { integerFlag } from '../core/whole-number.js';
import { generateRules, KNOCK_HOOKS, type KnockHook, type RulesOptions, type ServicePort } from './generate.js';
import { nftOwnTableRules } from './own-table.js';
import { NFT_TABLE_NAME_PATTERN } from '../config/option-values.js';

interface RulesFlags {
  config: string;
  target: 'nflog' | 'log';
  group?: string;
  prefix?: string;
  family: '4' | '6';
  complete?: boolean;
  format: 'iptables' | 'nft' | 'ipset';
  floodGuard?: string;
  service?: string[];
  hook: KnockHook;
  ownTable?: string;
  chain: string;
}

/** `nfknock rules`: the knock marks (or a whole default-deny table) for a knockd.conf, on stdout. */
export function registerRulesCommand(program: Command): Command {
  return program
    .command('rules')
    .description('print firewall rules that mark the knock ports of every door (iptables-restore or nft -f input)')
    .option('-c, --config <file>', 'knockd.conf to read', '/etc/knockd.conf')
    .addOption(new Option('--target <target>', 'NFLOG (netlink) or LOG (kernel log)').choices(['nflog', 'log']).default('nflog'))
    .option('--group <n>', 'NFLOG group (default: NflogGroup of the config, else 5)')
    .option('--prefix <text>', 'log prefix (default: LogPrefix of the config, else portknock)')
    .addOption(new Option('--family <n>', 'iptables-restore (4) or ip6tables-restore (6) output').choices(['4', '6']).default('4'))
    .option('--complete', 'a whole default-deny filter table, not a fragment for --noflush')
    .addOption(new Option('--format <format>', 'output for iptables-restore, nft -f, or ipset restore (the sets of Open = doors with Firewall = ipset)').choices(['iptables', 'nft', 'ipset']).default('iptables'))
    .option('--flood-guard <rate/burst>', 'kernel-side per-source limit on logged knocks, e.g. 20/40; beware: a spoofed flood then fills its table and locks out new knockers (docs/deploying.md)')
    .option('--service <proto/port...>', 'with --complete: ports open to everybody, e.g. tcp/443')
    .addOption(
      new Option('--hook <hook>', "where knocks are marked: input (this host), forward (routed through this gateway; each door marked for its Target) or prerouting (before a DNAT)")
        .choices([...KNOCK_HOOKS])
        .default('input'),
    )
    .option('--own-table <name>', 'with --format nft: only the sets and accept rules Open = doors need in your own inet table (then NftTable = name)')
    .option('--chain <name>', 'with --own-table: your base chain that drops', 'input')
    .action(async (flags: RulesFlags) => {
      if (flags.ownTable !== undefined) {
        process.stdout.write(ownTableRules(flags));
        return;
      }
      const config = await loadConfig(flags.config);
      const text = generateRules(config, await rulesOptions(config, flags));
      process.stdout.write(text);
    });
}

async function rulesOptions(config: Config, flags: RulesFlags): Promise<RulesOptions> {
  return {
    target: flags.target,
    group: flags.group === undefined ? config.options.nflogGroup : integerFlag(flags.group, '--group', 0, 65535),
    prefix: flags.prefix ?? config.options.logPrefix,
    family: flags.family === '6' ? 6 : 4,
    complete: flags.complete === true,
    format: flags.format,
    openSets: config.options.firewall === 'ipset',
    floodGuard: flags.floodGuard === undefined ? undefined : parseFloodGuard(flags.floodGuard),
    oneTimeSteps: await oneTimeSteps(config),
    servicePorts: (flags.service ?? []).map(parseService),
    hook: flags.hook,
  };
}

function ownTableRules(flags: RulesFlags): string {
  if (flags.format !== 'nft') throw new NfknockError(ErrorCodes.USAGE, '--own-table needs --format nft');
  for (const [flag, name] of [['--own-table', flags.ownTable], ['--chain', flags.chain]] as const) {
    if (!NFT_TABLE_NAME_PATTERN.test(name ?? '')) throw new NfknockError(ErrorCodes.USAGE, `${flag} takes an nft name (letters, digits, _)`, { location: { text: name ?? '' } });
  }
  return nftOwnTableRules(flags.ownTable as string, flags.chain);
}

function parseFloodGuard(text: string): { perSourcePerSecond: number; burst: number } {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  if (!match) throw new NfknockError(ErrorCodes.USAGE, '--flood-guard takes RATE/BURST, e.g. 20/40', { location: { text } });
  return { perSourcePerSecond: Number(match[1]), burst: Number(match[2]) };
}

function parseService(text: string): ServicePort {
  const match = /^(tcp|udp)\/(\d+)$/.exec(text);
  if (!match) throw new NfknockError(ErrorCodes.USAGE, '--service takes PROTO/PORT, e.g. tcp/443', { location: { text } });
  return { protocol: match[1] as 'tcp' | 'udp', port: Number(match[2]) };
}

