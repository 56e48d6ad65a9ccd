import { ipv6ZeroRun } from '../core/address.js';

/**
 * RFC 5952 text of sixteen bytes, exactly as core/address.ts's formatIPv6 writes it, with no array,
 * closure or intermediate string per address: the characters go into a scratch buffer read out as one
 * latin1 string. Spoofed IPv6 floods carry a new source in every packet.
 */
const groups = new Uint16Array(8);
const text = Buffer.alloc(48);
const HEX = '0123456789abcdef';

export function ipv6Text(bytes: Uint8Array, offset: number): string {
  for (let i = 0; i < 8; i++) groups[i] = ((bytes[offset + 2 * i] as number) << 8) | (bytes[offset + 2 * i + 1] as number);
  const run = ipv6ZeroRun(groups);
  const bestStart = run < 0 ? -1 : run >> 4;
  const bestLength = run < 0 ? 1 : run & 15;
  let n = 0;
  if (bestStart === 0 && bestLength === 5 && groups[5] === 0xffff) {
    // An IPv4-mapped address: ::ffff:a.b.c.d
    n = text.write('::ffff:', 0, 'latin1');
    n = putDecimal(groups[6]! >> 8, n);
    text[n++] = 0x2e;
    n = putDecimal(groups[6]! & 0xff, n);
    text[n++] = 0x2e;
    n = putDecimal(groups[7]! >> 8, n);
    text[n++] = 0x2e;
    n = putDecimal(groups[7]! & 0xff, n);
    return text.toString('latin1', 0, n);
  }
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text[n++] = 0x3a;
      text[n++] = 0x3a;
      i += bestLength - 1;
      continue;
    }
    if (i > 0 && i !== bestStart + bestLength) text[n++] = 0x3a;
    n = putHex(groups[i]!, n);
  }
  return text.toString('latin1', 0, n);
}

function putHex(value: number, at: number): number {
  let shift = 12;
  while (shift > 0 && value >> shift === 0) shift -= 4;
  for (; shift >= 0; shift -= 4) text[at++] = HEX.charCodeAt((value >> shift) & 15);
  return at;
}

function putDecimal(value: number, at: number): number {
  if (value >= 100) text[at++] = 0x30 + ((value / 100) | 0);
  if (value >= 10) text[at++] = 0x30 + (((value / 10) | 0) % 10);
  text[at++] = 0x30 + (value % 10);
  return at;
}
