import type { MarkGroup } from './generate.js';
import { rulePrefix, type KnockHook, type RulesOptions } from './options.js';
import { nftTcpFlags } from './flags.js';
import { commentSafe } from './iptables.js';
import { FLOOD_TABLE_EXPIRE_MS, FLOOD_TABLE_MAX, IPV6_SOURCE_PREFIX, NFLOG_COPY_BYTES } from './limits.js';

export const NFT_TABLE = 'inet nfknock';

/** Interval: Open = takes port ranges; timeout: each element carries its own (issue 13). */
export const NFT_OPEN_SETS = [
  'set open4 { type ipv4_addr . inet_proto . inet_service; flags interval,timeout; }',
  'set open6 { type ipv6_addr . inet_proto . inet_service; flags interval,timeout; }',
];
export const NFT_OPEN_RULES = ['ip saddr . meta l4proto . th dport @open4 accept', 'ip6 saddr . meta l4proto . th dport @open6 accept'];

/** The commands a door needs with the complete nft ruleset, whose drop policy no iptables ACCEPT can lift. */
export function nftDoorCommands(protocol: 'tcp' | 'udp', port: number): { start: string; stop: string; start6: string; stop6: string } {
  const element = (set: string) => `${NFT_TABLE} ${set} { %IP% . ${protocol} . ${port} }`;
  return {
    start: `nft add element ${element('open4')}`,
    stop: `nft delete element ${element('open4')}`,
    start6: `nft add element ${element('open6')}`,
    stop6: `nft delete element ${element('open6')}`,
  };
}

/** Base chain of the fragment per hook; prerouting at mangle priority runs before DNAT (dstnat, -100). */
const NFT_HOOKS: Record<KnockHook, string> = {
  input: 'type filter hook input priority filter - 1; policy accept;',
  forward: 'type filter hook forward priority filter - 1; policy accept;',
  prerouting: 'type filter hook prerouting priority mangle; policy accept;',
};

export function nftRules(groups: MarkGroup[], options: RulesOptions): string {
  const guard = options.floodGuard;
  const log =
    options.target === 'nflog'
      ? `log prefix "${rulePrefix(options)}" group ${options.group} snaplen ${NFLOG_COPY_BYTES}`
      : `log prefix "${rulePrefix(options)}"`;
  const markAction = guard ? 'jump knock_log' : log;
  const lines = options.complete ? completeHead() : fragmentHead();
  lines.push('table inet nfknock', 'delete table inet nfknock', 'table inet nfknock {');
  lines.push(
    '\t# Open doors: (source, protocol, port or range). nfknockd adds the knocker of an Open = door with a',
    '\t# timeout of its cmd_timeout, so the kernel closes the door even if nothing else does. Door commands',
    `\t# may add and delete elements too, e.g.: ${nftDoorCommands('tcp', 22).start}`,
    ...NFT_OPEN_SETS.map((set) => `\t${set}`),
  );
  if (guard) {
    const limit = `limit rate ${guard.perSourcePerSecond}/second burst ${guard.burst} packets`;
    const v6mask = 'ffff:ffff:ffff:ffff::';
    lines.push(
      `\t# Flood guard: ${guard.perSourcePerSecond} knocks/s per source (IPv6: per /${IPV6_SOURCE_PREFIX}); when a set is full, new sources are not logged.`,
      `\tset flood4 { type ipv4_addr; size ${FLOOD_TABLE_MAX}; flags dynamic,timeout; timeout ${FLOOD_TABLE_EXPIRE_MS / 1000}s; }`,
      `\tset flood6 { type ipv6_addr; size ${FLOOD_TABLE_MAX}; flags dynamic,timeout; timeout ${FLOOD_TABLE_EXPIRE_MS / 1000}s; }`,
      '\tchain knock_log {',
      `\t\tupdate @flood4 { ip saddr ${limit} } ${log}`,
      `\t\tupdate @flood6 { ip6 saddr & ${v6mask} ${limit} } ${log}`,
      '\t}',
    );
  }
  lines.push('\tchain knock {');
  if (!options.complete) {
    lines.push(
      '\t\t# Before the usual filter chains (priority 0), and only logging: the verdict stays theirs.',
      `\t\t${NFT_HOOKS[options.hook ?? 'input']}`,
    );
  }
  for (const { destination, family, marks } of groups) {
    const to = destination === undefined ? '' : `${family === 6 ? 'ip6' : 'ip'} daddr ${destination} `;
    for (const mark of marks) {
      const ports = mark.from === mark.to ? `${mark.from}` : `${mark.from}-${mark.to}`;
      const flags = mark.protocol === 'tcp' ? nftTcpFlags(mark.tcpFlags) : '';
      lines.push(
        `\t\t# ${ports}/${mark.protocol}${destination === undefined ? '' : ` to ${destination}`}: ${mark.doors.map(commentSafe).join(', ')}`,
        `\t\t${to}${mark.protocol} dport ${ports}${flags} ${markAction}`,
      );
    }
  }
  // Input hook only: Open = doors open this host's ports, not those of hosts behind a gateway.
  if (!options.complete && (options.hook ?? 'input') === 'input') {
    lines.push(
      '\t\t# Open doors. An accept here cannot lift a drop in another table: a host whose own ruleset drops',
      '\t\t# needs these sets and rules in its own table (nfknock rules --format nft --own-table TABLE).',
      ...NFT_OPEN_RULES.map((rule) => `\t\t${rule}`),
    );
  }
  lines.push('\t}');
  if (options.complete) lines.push(...completeChains(options));
  lines.push('}', '');
  return lines.join('\n');
}

function fragmentHead(): string[] {
  return [
    '# nfknock knock marks for nft -f. Its own table: reloading replaces only this table, atomically.',
    '# The chain only logs (policy accept), so it works beside any other ruleset, including',
    '# iptables-nft: door commands such as "iptables -I INPUT -s %IP% ... -j ACCEPT" keep working.',
  ];
}

function completeHead(): string[] {
  return [
    '# nfknock complete default-deny ruleset for nft -f (IPv4 and IPv6). Reloading replaces this table',
    '# and forgets open doors. Every base chain on a hook must accept a packet: an ACCEPT in another',
    '# table (iptables-nft included) cannot lift this table\'s drop policy. Doors must therefore open',
    '# with nft set elements, not iptables rules: Open = 22:tcp in the door (nfknockd adds the element with',
    '# a kernel timeout of cmd_timeout), or commands:',
    `#   start_command = ${nftDoorCommands('tcp', 22).start}`,
    `#   stop_command  = ${nftDoorCommands('tcp', 22).stop}`,
    `#   start_command_6 / stop_command_6: the same with open6`,
  ];
}

function completeChains(options: RulesOptions): string[] {
  const lines = [
    '\tchain input {',
    '\t\ttype filter hook input priority filter; policy drop;',
    '\t\tiif "lo" accept',
    '\t\tct state established,related accept',
    '\t\t# Knocks with FIN or ACK flags are invalid to conntrack: log them before invalid is dropped.',
    '\t\tjump knock',
    '\t\t# Neighbour discovery and multicast listener discovery: without them IPv6 stops working.',
    '\t\ticmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 accept',
    '\t\ticmpv6 type { mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report } ip6 saddr fe80::/10 accept',
    '\t\tct state invalid drop',
    ...NFT_OPEN_RULES.map((rule) => `\t\t${rule}`),
    '\t\ticmp type echo-request limit rate 5/second burst 10 packets accept',
    '\t\ticmp type { destination-unreachable, time-exceeded, parameter-problem } accept',
    '\t\ticmpv6 type echo-request limit rate 5/second burst 10 packets accept',
    '\t\ticmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } accept',
    '\t\t# DHCPv6 replies answer a multicast request, so conntrack does not see them as established.',
    '\t\tip6 saddr fe80::/10 udp sport 547 udp dport 546 accept',
  ];
  for (const service of options.servicePorts ?? []) lines.push(`\t\t${service.protocol} dport ${service.port} accept`);
  lines.push('\t}', '\tchain forward {', '\t\ttype filter hook forward priority filter; policy drop;', '\t}');
  return lines;
}
