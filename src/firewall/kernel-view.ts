/**
 * What the kernel holds in nfknock's sets, parsed from `nft -j list set` and `ipset save` output, and
 * compared with what the state file records. Pure: the text comes from the edge (kernel-edge.ts).
 */
import { canonicalAddress } from '../core/address.js';
import type { Family, Protocol } from '../core/types.js';
import type { PendingClose } from '../doors/pending-close.js';
import { portText, type FirewallKind, type OpenPort } from './open-ports.js';

export interface KernelEntry {
  firewall: FirewallKind;
  source: string;
  family: Family;
  port: OpenPort;
  /** Seconds until the kernel removes the entry; undefined when it never expires by itself. */
  expiresInSeconds?: number;
}

export type KernelParse = { ok: true; entries: KernelEntry[] } | { ok: false; reason: string };

const PROTOCOL_NUMBERS = new Map<unknown, Protocol>([
  ['tcp', 'tcp'],
  ['udp', 'udp'],
  [6, 'tcp'],
  [17, 'udp'],
]);

/** Parses `nft -j list set inet nfknock open4|open6`; elements of other shapes are reasons to refuse. */
export function parseNftSetJson(text: string): KernelParse {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'nft -j output is not JSON' };
  }
  const items = isRecord(document) && Array.isArray(document.nftables) ? document.nftables : undefined;
  if (!items) return { ok: false, reason: 'nft -j output has no "nftables" array' };
  const entries: KernelEntry[] = [];
  for (const item of items) {
    if (!isRecord(item) || !isRecord(item.set)) continue;
    const elements = item.set.elem ?? [];
    if (!Array.isArray(elements)) return { ok: false, reason: 'the set\'s "elem" is not an array' };
    for (const raw of elements) {
      const entry = nftElement(raw);
      if (typeof entry === 'string') return { ok: false, reason: entry };
      entries.push(entry);
    }
  }
  return { ok: true, entries };
}

function nftElement(raw: unknown): KernelEntry | string {
  // With a timeout an element is { elem: { val, timeout, expires } }; without, the value itself.
  const wrapped = isRecord(raw) && isRecord(raw.elem) ? raw.elem : undefined;
  const value = wrapped ? wrapped.val : raw;
  if (!isRecord(value) || !Array.isArray(value.concat) || value.concat.length !== 3) return 'an element is not address . protocol . port';
  const [addressText, protocolValue, portValue] = value.concat as unknown[];
  const address = typeof addressText === 'string' ? canonicalAddress(addressText) : undefined;
  if (!address) return `an element's address ${JSON.stringify(addressText)} is not an address`;
  const protocol = PROTOCOL_NUMBERS.get(protocolValue);
  if (!protocol) return `an element's protocol ${JSON.stringify(protocolValue)} is not tcp or udp`;
  const port = nftPort(portValue);
  if (!port) return `an element's port ${JSON.stringify(portValue)} is not a port or range`;
  const entry: KernelEntry = { firewall: 'nft', source: address.address, family: address.family, port: { protocol, ...port } };
  const expires = wrapped?.expires;
  if (typeof expires === 'number' && Number.isFinite(expires) && expires >= 0) entry.expiresInSeconds = expires;
  return entry;
}

function nftPort(value: unknown): { from: number; to: number } | undefined {
  if (isPort(value)) return { from: value, to: value };
  if (isRecord(value) && Array.isArray(value.range) && value.range.length === 2) {
    const [from, to] = value.range as unknown[];
    if (isPort(from) && isPort(to) && from <= to) return { from, to };
  }
  return undefined;
}

const IPSET_ADD = /^add (\S+) (\S+?),(tcp|udp):([0-9]{1,5})(?: timeout ([0-9]+))?(?: .*)?$/;

/** Parses `ipset save SET` output: `create` and `add` lines; entries of other protocols are skipped. */
export function parseIpsetSave(text: string): KernelParse {
  const entries: KernelEntry[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('create ')) continue;
    if (!trimmed.startsWith('add ')) return { ok: false, reason: `unexpected ipset save line ${JSON.stringify(trimmed.slice(0, 80))}` };
    const match = IPSET_ADD.exec(trimmed);
    if (!match) {
      if (/^add \S+ \S+,(?!tcp:|udp:)/.test(trimmed)) continue; // icmp, sctp...: not nfknock's
      return { ok: false, reason: `unexpected ipset entry ${JSON.stringify(trimmed.slice(0, 80))}` };
    }
    const address = canonicalAddress(match[2] ?? '');
    const port = Number(match[4]);
    if (!address || !isPort(port)) return { ok: false, reason: `unexpected ipset entry ${JSON.stringify(trimmed.slice(0, 80))}` };
    const entry: KernelEntry = { firewall: 'ipset', source: address.address, family: address.family, port: { protocol: match[3] as Protocol, from: port, to: port } };
    // `timeout 0` in an entry of a set with timeouts means "never expires".
    if (match[5] !== undefined && Number(match[5]) > 0) entry.expiresInSeconds = Number(match[5]);
    entries.push(entry);
  }
  return { ok: true, entries };
}

/** True when `ipset save` shows a set created with timeout support (entries may then carry their own). */
export function ipsetHasTimeouts(text: string): boolean {
  return /^create \S+ .*\btimeout [0-9]+/m.test(text);
}

/** True when `nft -j list set` shows a set with `flags timeout`. */
export function nftSetHasTimeouts(text: string): boolean {
  try {
    const document = JSON.parse(text) as unknown;
    const items = isRecord(document) && Array.isArray(document.nftables) ? document.nftables : [];
    return items.some((item: unknown) => isRecord(item) && isRecord(item.set) && Array.isArray(item.set.flags) && item.set.flags.includes('timeout'));
  } catch {
    return false;
  }
}

export interface Mismatch {
  kind: 'not-in-state' | 'not-in-kernel';
  door?: string;
  source: string;
  port: string;
  firewall: FirewallKind;
}

/**
 * Entries the kernel holds that no recorded door explains, and recorded `Open =` doors whose entries
 * are gone. ipset lists a range port by port, so a recorded range is matched port-wise.
 */
export function compareWithState(entries: readonly KernelEntry[], pending: readonly PendingClose[], backends: readonly FirewallKind[]): Mismatch[] {
  const mismatches: Mismatch[] = [];
  const recorded = pending.filter((p) => p.open !== undefined && backends.includes(p.open.firewall));
  const covers = (p: PendingClose, e: KernelEntry) =>
    p.source === e.source &&
    p.open?.firewall === e.firewall &&
    (p.open?.ports ?? []).some((port) => port.protocol === e.port.protocol && port.from <= e.port.from && e.port.to <= port.to);
  for (const entry of entries) {
    if (!recorded.some((p) => covers(p, entry))) {
      mismatches.push({ kind: 'not-in-state', source: entry.source, port: `${portText(entry.port)}/${entry.port.protocol}`, firewall: entry.firewall });
    }
  }
  for (const p of recorded) {
    for (const port of p.open?.ports ?? []) {
      const present = entries.some((e) => e.source === p.source && e.firewall === p.open?.firewall && e.port.protocol === port.protocol && port.from <= e.port.from && e.port.to <= port.to);
      if (!present) mismatches.push({ kind: 'not-in-kernel', door: p.door, source: p.source, port: `${portText(port)}/${port.protocol}`, firewall: p.open?.firewall as FirewallKind });
    }
  }
  return mismatches;
}

function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
