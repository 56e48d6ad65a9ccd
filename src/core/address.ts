import { isIPv4, isIPv6 } from 'node:net';
import type { Family } from './types.js';

/**
 * Address literals are the key of every knock attempt and are pasted into shell commands as %IP%,
 * so they must have exactly one spelling: dotted quad, or RFC 5952 compressed lower-case IPv6.
 */
export function formatIPv4(bytes: Uint8Array, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

export function formatIPv6(bytes: Uint8Array, offset: number): string {
  const groups: number[] = new Array(8);
  for (let i = 0; i < 8; i++) groups[i] = ((bytes[offset + 2 * i] ?? 0) << 8) | (bytes[offset + 2 * i + 1] ?? 0);
  return compressIPv6Groups(groups);
}

/**
 * RFC 5952 4.2: the run of zero groups to write as "::", the longest (>= 2), the first one on a tie:
 * `start * 16 + length`, or -1 for none (one number, so the decoder's hot path allocates nothing).
 */
export function ipv6ZeroRun(groups: ArrayLike<number>): number {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  return bestStart < 0 ? -1 : bestStart * 16 + bestLength;
}

function compressIPv6Groups(groups: number[]): string {
  const run = ipv6ZeroRun(groups);
  const bestStart = run < 0 ? -1 : run >> 4;
  const bestLength = run < 0 ? 1 : run & 15;
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) {
    const head = groups.slice(0, 6);
    if (isMappedPrefix(head)) return `::ffff:${dotted(groups)}`;
    return hex(0, 8);
  }
  if (bestStart === 0 && bestLength === 5 && groups[5] === 0xffff) return `::ffff:${dotted(groups)}`;
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

function isMappedPrefix(head: number[]): boolean {
  return head.slice(0, 5).every((g) => g === 0) && head[5] === 0xffff;
}

function dotted(groups: number[]): string {
  const a = groups[6] ?? 0;
  const b = groups[7] ?? 0;
  return `${a >> 8}.${a & 0xff}.${b >> 8}.${b & 0xff}`;
}

export interface CanonicalAddress {
  address: string;
  family: Family;
}

/** Parses an address literal in any valid spelling; undefined when it is not one. */
export function canonicalAddress(text: string): CanonicalAddress | undefined {
  if (isIPv4(text)) {
    const parts = text.split('.');
    // node's isIPv4 rejects leading zeros, so Number() is exact here.
    return { address: parts.map((p) => String(Number(p))).join('.'), family: 4 };
  }
  if (!isIPv6(text) || text.includes('%')) return undefined;
  const bytes = parseIPv6(text);
  return bytes ? { address: formatIPv6(bytes, 0), family: 6 } : undefined;
}

function parseIPv6(text: string): Uint8Array | undefined {
  let body = text.toLowerCase();
  const lastColon = body.lastIndexOf(':');
  const maybeV4 = body.slice(lastColon + 1);
  if (maybeV4.includes('.')) {
    if (!isIPv4(maybeV4)) return undefined;
    const [a, b, c, d] = maybeV4.split('.').map(Number) as [number, number, number, number];
    body = `${body.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string | undefined) => (part ? part.split(':').map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : -1)) : []);
  const head = parse(halves[0]);
  const rest = parse(halves[1]);
  const zeros = halves.length === 2 ? 8 - head.length - rest.length : 0;
  if (zeros < 0) return undefined;
  const groups = [...head, ...new Array<number>(zeros).fill(0), ...rest];
  if (groups.length !== 8 || groups.some((g) => g < 0)) return undefined;
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}
