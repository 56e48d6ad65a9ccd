import { TcpFlag, type TcpFlagRule } from '../core/types.js';

/** TcpFlag is declared in bit order, which is the order iptables and nft print flags in. */
const order = Object.entries(TcpFlag);

function names(bits: number): string[] {
  return order.filter(([, bit]) => (bits & bit) !== 0).map(([name]) => name);
}

/** Flags the rule compares: required and forbidden bits; the packet must show exactly the required ones. */
function mask(rule: TcpFlagRule): number {
  return rule.required | rule.forbidden;
}

/** `--tcp-flags SYN,ACK SYN`, or '' when the door accepts any TCP packet. */
export function iptablesTcpFlags(rule: TcpFlagRule): string {
  if (mask(rule) === 0) return '';
  const comp = names(rule.required);
  return ` --tcp-flags ${names(mask(rule)).join(',')} ${comp.length === 0 ? 'NONE' : comp.join(',')}`;
}

/** `tcp flags & (syn | ack) == syn`, or '' when the door accepts any TCP packet. */
export function nftTcpFlags(rule: TcpFlagRule): string {
  if (mask(rule) === 0) return '';
  const comp = names(rule.required).map((name) => name.toLowerCase());
  const maskNames = names(mask(rule)).map((name) => name.toLowerCase());
  return ` tcp flags & (${maskNames.join(' | ')}) == ${comp.length === 0 ? '0' : comp.join(' | ')}`;
}
