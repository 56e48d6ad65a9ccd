import type { Family } from '../core/types.js';
import type { MarkGroup } from './generate.js';
import { rulePrefix, type KnockHook, type RulesOptions } from './options.js';
import { iptablesTcpFlags } from './flags.js';
import { ipsetName } from '../firewall/operations.js';
import { FLOOD_TABLE_EXPIRE_MS, FLOOD_TABLE_MAX, FLOOD_TABLE_BUCKETS, IPV6_SOURCE_PREFIX, NFLOG_COPY_BYTES } from './limits.js';

export const KNOCK_CHAIN = 'NFKNOCK';

const tool = (family: Family): string => (family === 4 ? 'iptables' : 'ip6tables');

/** The built-in chain (and its table) each hook marks knocks in. */
export const IPTABLES_HOOKS: Record<KnockHook, { table: string; chain: string }> = {
  input: { table: 'filter', chain: 'INPUT' },
  forward: { table: 'filter', chain: 'FORWARD' },
  // mangle PREROUTING runs before nat PREROUTING: it still sees the destination a DNAT will rewrite.
  prerouting: { table: 'mangle', chain: 'PREROUTING' },
};

/** The one rule that sends the hook's chain through the knock chain, as an idempotent shell line (fragment mode). */
export function iptablesHookCommand(family: Family, hook: KnockHook = 'input'): string {
  const cmd = tool(family);
  const { table, chain } = IPTABLES_HOOKS[hook];
  const t = table === 'filter' ? '' : ` -t ${table}`;
  return `${cmd}${t} -C ${chain} -j ${KNOCK_CHAIN} 2>/dev/null || ${cmd}${t} -I ${chain} 1 -j ${KNOCK_CHAIN}`;
}

export function iptablesRules(groups: MarkGroup[], options: RulesOptions): string {
  const family = options.family;
  const hook = options.hook ?? 'input';
  const lines = options.complete ? completeHead(family, options) : fragmentHead(family, hook);
  lines.push(...knockChain(groups.filter((group) => group.family === undefined || group.family === family), options));
  // Fragment: an ACCEPT in the knock chain ends INPUT for these packets (the chain is jumped to first).
  // Input hook only: Open = doors open this host's ports; in FORWARD it would pass the knocker to any host.
  if (options.openSets && !options.complete && hook === 'input') lines.push(...openSetRule(KNOCK_CHAIN, family));
  lines.push('COMMIT', '');
  return lines.join('\n');
}

function fragmentHead(family: Family, hook: KnockHook): string[] {
  const cmd = tool(family);
  const { table, chain } = IPTABLES_HOOKS[hook];
  return [
    `# nfknock knock marks (IPv${family}) for a running firewall; other rules are left alone.`,
    `#   ${cmd}-restore --noflush < THIS_FILE`,
    `#   ${iptablesHookCommand(family, hook)}`,
    `# Reloading is idempotent: ":${KNOCK_CHAIN} - [0:0]" creates the chain or empties it, and the`,
    `# second line adds the jump from ${chain} only once (iptables-restore cannot test for a rule itself).`,
    `# The marks only log: knock packets go on through ${chain} and meet your own rules.`,
    `*${table}`,
    `:${KNOCK_CHAIN} - [0:0]`,
  ];
}

function completeHead(family: Family, options: RulesOptions): string[] {
  const cmd = tool(family);
  const lines = [
    `# nfknock complete default-deny filter table (IPv${family}). It replaces the whole filter table:`,
    `#   ${cmd}-apply -t 60 THIS_FILE    (rolls back unless you confirm from a new session)`,
    '# Door commands may insert (-I INPUT) or append (-A INPUT) their ACCEPT rules: this table ends in',
    '# the DROP policy, not in a final REJECT/DROP rule, so appended rules are still reached.',
    '*filter',
    ':INPUT DROP [0:0]',
    ':FORWARD DROP [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    `:${KNOCK_CHAIN} - [0:0]`,
    '-A INPUT -i lo -j ACCEPT',
    '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    '# Knocks with FIN or ACK flags are INVALID to conntrack: log them before INVALID is dropped.',
    `-A INPUT -j ${KNOCK_CHAIN}`,
  ];
  if (family === 6) {
    lines.push(
      '# Neighbour discovery and multicast listener discovery: without them IPv6 stops working.',
      ...[134, 135, 136].map((type) => `-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type ${type} -m hl --hl-eq 255 -j ACCEPT`),
      ...[130, 131, 132, 143].map((type) => `-A INPUT -s fe80::/10 -p ipv6-icmp -m icmp6 --icmpv6-type ${type} -j ACCEPT`),
    );
  }
  lines.push('-A INPUT -m conntrack --ctstate INVALID -j DROP');
  if (options.openSets) lines.push(...openSetRule('INPUT', family));
  if (family === 4) {
    lines.push(
      '# echo-request, destination-unreachable (path MTU discovery), time-exceeded, parameter-problem',
      '-A INPUT -p icmp -m icmp --icmp-type 8 -m limit --limit 5/sec --limit-burst 10 -j ACCEPT',
      ...[3, 11, 12].map((type) => `-A INPUT -p icmp -m icmp --icmp-type ${type} -j ACCEPT`),
    );
  } else {
    lines.push(
      '# echo-request, destination-unreachable, packet-too-big, time-exceeded, parameter-problem',
      '-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 128 -m limit --limit 5/sec --limit-burst 10 -j ACCEPT',
      ...[1, 2, 3, 4].map((type) => `-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type ${type} -j ACCEPT`),
      '# DHCPv6 replies answer a multicast request, so conntrack does not see them as ESTABLISHED.',
      '-A INPUT -s fe80::/10 -p udp -m udp --sport 547 --dport 546 -j ACCEPT',
    );
  }
  const services = options.servicePorts ?? [];
  if (services.length > 0) lines.push('# Services open to everybody (not behind a door).');
  for (const service of services) {
    lines.push(`-A INPUT -p ${service.protocol} -m ${service.protocol} --dport ${service.port} -j ACCEPT`);
  }
  lines.push('# Door ACCEPT rules go here (-A INPUT) or on top (-I INPUT).');
  if (options.hook === 'forward') {
    lines.push(
      '# Routed traffic: replies, then knocks for the internal hosts (Target); doors open with',
      '#   iptables -I FORWARD -s %IP% -d TARGET -p tcp --dport PORT -j ACCEPT',
      '-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      `-A FORWARD -j ${KNOCK_CHAIN}`,
      '-A FORWARD -m conntrack --ctstate INVALID -j DROP',
    );
  }
  return lines;
}

function knockChain(groups: MarkGroup[], options: RulesOptions): string[] {
  const lines: string[] = [];
  const target =
    options.target === 'nflog'
      ? `-j NFLOG --nflog-prefix ${rulePrefix(options)} --nflog-group ${options.group} --nflog-size ${NFLOG_COPY_BYTES}`
      : `-j LOG --log-prefix "${rulePrefix(options)}"`;
  const guard = options.floodGuard
    ? ` -m hashlimit --hashlimit-upto ${options.floodGuard.perSourcePerSecond}/sec --hashlimit-burst ${options.floodGuard.burst}` +
      ` --hashlimit-mode srcip --hashlimit-name nfknock --hashlimit-htable-size ${FLOOD_TABLE_BUCKETS}` +
      ` --hashlimit-htable-max ${FLOOD_TABLE_MAX} --hashlimit-htable-expire ${FLOOD_TABLE_EXPIRE_MS}` +
      (options.family === 6 ? ` --hashlimit-srcmask ${IPV6_SOURCE_PREFIX}` : '')
    : '';
  for (const { destination, marks } of groups) {
    const to = destination === undefined ? '' : ` -d ${destination}`;
    for (const mark of marks) {
      const ports = mark.from === mark.to ? `${mark.from}` : `${mark.from}:${mark.to}`;
      const flags = mark.protocol === 'tcp' ? iptablesTcpFlags(mark.tcpFlags) : '';
      lines.push(
        `# ${ports.replace(':', '-')}/${mark.protocol}${destination === undefined ? '' : ` to ${destination}`}: ${mark.doors.map(commentSafe).join(', ')}`,
        `-A ${KNOCK_CHAIN}${to} -p ${mark.protocol} -m ${mark.protocol} --dport ${ports}${flags}${guard} ${target}`,
      );
    }
  }
  return lines;
}

/** The knockers nfknockd put in its ipset (Open = doors); the set must exist before this file loads. */
function openSetRule(chain: string, family: Family): string[] {
  return [
    `# Open = doors: nfknockd adds (knocker, protocol, port) to ${ipsetName(family)} with a timeout; load the sets first (nfknock rules --format ipset).`,
    `-A ${chain} -m set --match-set ${ipsetName(family)} src,dst -j ACCEPT`,
  ];
}

/** Door names come from `[section]` headers; keep them from breaking a comment line. */
export function commentSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}
