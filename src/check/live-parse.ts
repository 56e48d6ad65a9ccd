/**
 * The firewall the kernel has loaded, as far as knock marks go: every rule that logs (NFLOG/LOG, nft
 * `log`) packets to a destination port, with its protocol, port interval, TCP flag test, destination,
 * log target and whether a hook reaches it. Pure over `iptables-save` text and `nft -j list ruleset`
 * JSON; anything else in a rule (interfaces, sources, limits) is left aside.
 */
import { canonicalAddress } from '../core/address.js';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import { tcpFlagBits, type Family, type Protocol, type TcpFlagName, type TcpFlagRule } from '../core/types.js';
import type { KnockHook } from '../rules/generate.js';

export interface LiveLog {
  target: 'nflog' | 'log';
  /** NFLOG group; undefined for LOG. */
  group?: number;
  prefix: string;
}

export interface LiveMark {
  family: Family;
  protocol: Protocol;
  from: number;
  to: number;
  tcpFlags: TcpFlagRule;
  destination?: string;
  log: LiveLog;
  /** The built-in hooks whose packets reach the rule (through jumps); empty: dead rule. */
  hooks: Set<KnockHook>;
  /** Where it is, for messages: "iptables filter NFKNOCK" or "nft inet nfknock knock". */
  where: string;
  /** The shell command that deletes exactly this rule. */
  deleteCommand: string;
}

/** Built-in chains by hook: a mark reached from PREROUTING sees every incoming packet. */
const IPTABLES_HOOK_CHAINS = new Map<string, KnockHook>([
  ['INPUT', 'input'],
  ['FORWARD', 'forward'],
  ['PREROUTING', 'prerouting'],
]);

interface IptablesRule {
  table: string;
  chain: string;
  words: string[];
  text: string;
}

/** `iptables-save` / `ip6tables-save` output; `tool` is iptables or ip6tables (for delete commands). */
export function parseIptablesSave(text: string, family: Family): LiveMark[] {
  const tool = family === 4 ? 'iptables' : 'ip6tables';
  const rules: IptablesRule[] = [];
  let table = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith('-A ')) {
      const words = shellWords(line);
      rules.push({ table, chain: words[1] ?? '', words, text: line });
    }
  }
  const jumps = new Map<string, string[]>();
  for (const rule of rules) {
    const target = optionValue(rule.words, ['-j', '--jump']) ?? optionValue(rule.words, ['-g', '--goto']);
    if (target === undefined) continue;
    addJump(jumps, `${rule.table}/${rule.chain}`, `${rule.table}/${target}`);
  }
  const hooksOf = reachability(jumps, [...new Set(rules.map((r) => r.table))].flatMap((t) => [...IPTABLES_HOOK_CHAINS].map(([chain, hook]) => [`${t}/${chain}`, hook] as const)));
  const marks: LiveMark[] = [];
  for (const rule of rules) {
    const w = rule.words;
    const jump = optionValue(w, ['-j', '--jump']);
    const log: LiveLog | undefined =
      jump === 'NFLOG'
        ? { target: 'nflog', group: Number(optionValue(w, ['--nflog-group']) ?? 0), prefix: optionValue(w, ['--nflog-prefix']) ?? '' }
        : jump === 'LOG'
          ? { target: 'log', prefix: optionValue(w, ['--log-prefix']) ?? '' }
          : undefined;
    const protocol = optionValue(w, ['-p', '--protocol']);
    const ports = optionValue(w, ['--dport', '--destination-port']);
    if (!log || (protocol !== 'tcp' && protocol !== 'udp') || ports === undefined) continue;
    const [from, to] = ports.split(':').map(Number);
    if (from === undefined || !Number.isInteger(from) || !Number.isInteger(to ?? from)) continue;
    const mark: LiveMark = {
      family,
      protocol,
      from,
      to: to ?? from,
      tcpFlags: iptablesFlags(w),
      log,
      hooks: hooksOf(`${rule.table}/${rule.chain}`),
      where: `${tool} ${rule.table} ${rule.chain}`,
      deleteCommand: `${tool} -t ${rule.table} -D ${rule.text.slice(3)}`,
    };
    const destination = optionValue(w, ['-d', '--destination']);
    if (destination !== undefined) mark.destination = canonicalAddress(destination.replace(/\/(32|128)$/, ''))?.address ?? destination;
    marks.push(mark);
  }
  return marks;
}

/** `--tcp-flags SYN,ACK SYN` -> {required SYN, forbidden ACK}. */
function iptablesFlags(words: string[]): TcpFlagRule {
  const at = words.indexOf('--tcp-flags');
  if (at < 0) return { required: 0, forbidden: 0 };
  const bits = (list: string | undefined) =>
    (list ?? '')
      .split(',')
      .map((name) => name.toLowerCase())
      .reduce((acc, name) => acc | (Object.hasOwn(tcpFlagBits, name) ? tcpFlagBits[name as TcpFlagName] : name === 'all' ? 0x3f : 0), 0);
  const mask = bits(words[at + 1]);
  const required = bits(words[at + 2]) & mask;
  return { required, forbidden: mask & ~required };
}

function optionValue(words: string[], names: string[]): string | undefined {
  for (let i = 0; i < words.length - 1; i++) if (names.includes(words[i] as string) && words[i - 1] !== '!') return words[i + 1];
  return undefined;
}

/** iptables-save quotes values with spaces ("portknock "); nothing else it prints needs more. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const match of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) words.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : (match[2] as string));
  return words;
}

function addJump(jumps: Map<string, string[]>, from: string, to: string): void {
  const list = jumps.get(from);
  if (list) list.push(to);
  else jumps.set(from, [to]);
}

/** For each chain, the hooks from which some path of jumps reaches it. */
function reachability(jumps: Map<string, string[]>, roots: (readonly [string, KnockHook])[]): (chain: string) => Set<KnockHook> {
  const reached = new Map<string, Set<KnockHook>>();
  for (const [root, hook] of roots) {
    const stack = [root];
    while (stack.length > 0) {
      const chain = stack.pop() as string;
      const hooks = reached.get(chain) ?? new Set<KnockHook>();
      if (hooks.has(hook)) continue;
      hooks.add(hook);
      reached.set(chain, hooks);
      stack.push(...(jumps.get(chain) ?? []));
    }
  }
  return (chain) => reached.get(chain) ?? new Set();
}

type Json = Record<string, unknown>;
const NFT_HOOKS = new Set<string>(['input', 'forward', 'prerouting']);
/** Tables iptables-nft makes: `iptables-save` already shows them, in its own words. */
export const IPTABLES_TABLE_NAMES = new Set(['filter', 'mangle', 'raw', 'nat', 'security']);

/**
 * `nft -j list ruleset`. `skipTables` are `family/name` keys already read through iptables-save
 * (iptables-nft's tables), so that a rule is not counted twice.
 */
export function parseNftJson(text: string, skipTables: ReadonlySet<string> = new Set()): LiveMark[] {
  const items = nftItems(text);
  const chains = objects(items.map((item) => item['chain']));
  const rules = objects(items.map((item) => item['rule']));
  const key = (o: Json, chain = o['chain'] ?? o['name']) => `${String(o['family'])}/${String(o['table'])}/${String(chain)}`;
  const skip = (o: Json) => skipTables.has(`${String(o['family'])}/${String(o['table'])}`);

  const jumps = new Map<string, string[]>();
  const chainLog = new Map<string, LiveLog>();
  for (const rule of rules) {
    const expr = objects(rule['expr']);
    const target = jumpTarget(expr);
    if (target !== undefined) addJump(jumps, key(rule), key(rule, target));
    const log = nftLog(expr);
    // A log without a port match in a chain of its own: the flood guard's knock_log.
    if (log && dport(expr) === undefined) chainLog.set(key(rule), log);
  }
  const roots = chains.filter((c) => NFT_HOOKS.has(String(c['hook']))).map((c) => [key(c), c['hook'] as KnockHook] as const);
  const hooksOf = reachability(jumps, roots);
  const marks: LiveMark[] = [];
  for (const rule of rules) {
    if (skip(rule)) continue;
    const expr = objects(rule['expr']);
    const ports = dport(expr);
    const target = jumpTarget(expr);
    const log = nftLog(expr) ?? (target === undefined ? undefined : chainLog.get(key(rule, target)));
    if (!ports || !log) continue;
    const tableFamily = String(rule['family']);
    const destination = daddr(expr);
    const families: Family[] = destination ? [destination.family] : tableFamily === 'ip' ? [4] : tableFamily === 'ip6' ? [6] : tableFamily === 'inet' ? [4, 6] : [];
    for (const family of families) {
      const mark: LiveMark = {
        family,
        protocol: ports.protocol,
        from: ports.from,
        to: ports.to,
        tcpFlags: nftFlags(expr),
        log,
        hooks: hooksOf(key(rule)),
        where: `nft ${tableFamily} ${String(rule['table'])} ${String(rule['chain'])}`,
        deleteCommand: `nft delete rule ${tableFamily} ${String(rule['table'])} ${String(rule['chain'])} handle ${String(rule['handle'])}`,
      };
      if (destination) mark.destination = destination.address;
      marks.push(mark);
    }
  }
  return marks;
}

function nftItems(text: string): Json[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new NfknockError(ErrorCodes.COMMAND_FAILED, 'nft -j list ruleset printed something that is not JSON', { cause: error });
  }
  return objects(isObject(parsed) ? parsed['nftables'] : undefined);
}

/** The sets of an `nft -j list ruleset`, as "family table name" (how door commands name them). */
export function parseNftSets(text: string): Set<string> {
  return new Set(objects(nftItems(text).map((item) => item['set'])).map((set) => `${String(set['family'])} ${String(set['table'])} ${String(set['name'])}`));
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The JSON objects of an array; anything else (a newer nft's shapes, garbage) is left out. */
function objects(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

function matches(expr: Json[]): { left: Json; right: unknown }[] {
  return expr
    .map((e) => e['match'] as Json | undefined)
    .filter((m): m is Json => isObject(m) && m['op'] === '==' && isObject(m['left']))
    .map((m) => ({ left: m['left'] as Json, right: m['right'] }));
}

function payload(left: Json): { protocol: string; field: string } | undefined {
  const p = left['payload'];
  return isObject(p) && typeof p['protocol'] === 'string' && typeof p['field'] === 'string' ? { protocol: p['protocol'], field: p['field'] } : undefined;
}

function dport(expr: Json[]): { protocol: Protocol; from: number; to: number } | undefined {
  for (const { left, right } of matches(expr)) {
    const p = payload(left);
    if (!p || p.field !== 'dport' || (p.protocol !== 'tcp' && p.protocol !== 'udp')) continue;
    if (typeof right === 'number') return { protocol: p.protocol, from: right, to: right };
    const range = isObject(right) ? right['range'] : undefined;
    if (Array.isArray(range) && typeof range[0] === 'number' && typeof range[1] === 'number') return { protocol: p.protocol, from: range[0], to: range[1] };
  }
  return undefined;
}

function daddr(expr: Json[]): { family: Family; address: string } | undefined {
  for (const { left, right } of matches(expr)) {
    const p = payload(left);
    if (!p || p.field !== 'daddr' || typeof right !== 'string') continue;
    const address = canonicalAddress(right);
    if (address) return { family: address.family, address: address.address };
  }
  return undefined;
}

function nftFlags(expr: Json[]): TcpFlagRule {
  const bits = (value: unknown): number =>
    (Array.isArray(value) ? value : [value]).reduce<number>((acc, name) => acc | (typeof name === 'string' && Object.hasOwn(tcpFlagBits, name) ? tcpFlagBits[name as TcpFlagName] : 0), 0);
  for (const { left, right } of matches(expr)) {
    const and = left['&'];
    if (!Array.isArray(and) || !isObject(and[0])) continue;
    const p = payload(and[0]);
    if (!p || p.protocol !== 'tcp' || p.field !== 'flags') continue;
    const mask = bits(and[1]);
    const required = bits(right) & mask;
    return { required, forbidden: mask & ~required };
  }
  return { required: 0, forbidden: 0 };
}

function nftLog(expr: Json[]): LiveLog | undefined {
  const log = expr.map((e) => e['log']).find(isObject);
  if (!log) return undefined;
  const prefix = typeof log['prefix'] === 'string' ? log['prefix'] : '';
  return typeof log['group'] === 'number' ? { target: 'nflog', group: log['group'], prefix } : { target: 'log', prefix };
}

function jumpTarget(expr: Json[]): string | undefined {
  for (const e of expr) {
    const verdict = e['jump'] ?? e['goto'];
    if (isObject(verdict) && typeof verdict['target'] === 'string') return verdict['target'];
  }
  return undefined;
}
