/**
 * `Open = 22:tcp, 60000-61000:udp`: the declarative door (issue 13). nfknockd opens it itself by adding
 * (knocker, protocol, port) to nfknock's kernel sets with a timeout of cmd_timeout, so the kernel closes
 * it even when nfknockd, its state and systemd all fail. Pure.
 */
import type { Door, FirewallKind, OpenPort, Protocol } from '../core/types.js';
import { asciiLower, cTrim } from '../config/text.js';
import { parsePort } from '../config/sequence.js';

import { checkFirewall } from '../config/option-values.js';

export type { DoorOpening, FirewallKind, OpenPort } from '../core/types.js';
export { FIREWALL_KINDS, NFT_TABLE_NAME_PATTERN } from '../config/option-values.js';

/** Enough for any real door, few enough that one nft/ipset call stays small. */
export const MAX_OPEN_PORTS = 32;

export type OpenParse = { ok: true; ports: OpenPort[] } | { ok: false; message: string; text: string };

/** Parses the value of `Open =`; `tcp` is the default protocol, as in a knock sequence. */
export function parseOpenPorts(value: string): OpenParse {
  if (cTrim(value) === '') return { ok: false, message: 'Open needs at least one port (e.g. Open = 22:tcp)', text: value };
  const ports: OpenPort[] = [];
  for (const element of value.split(',')) {
    const written = cTrim(element);
    if (written === '') return { ok: false, message: 'Open: empty port (stray comma?)', text: value };
    const parts = written.split(':');
    if (parts.length > 2) return { ok: false, message: 'Open: bad element (port[:tcp|udp] or from-to[:tcp|udp] expected)', text: written };
    let protocol: Protocol = 'tcp';
    if (parts.length === 2) {
      const name = asciiLower(cTrim(parts[1] ?? ''));
      if (name !== 'tcp' && name !== 'udp') return { ok: false, message: 'Open: unknown protocol (tcp or udp expected)', text: written };
      protocol = name;
    }
    const range = cTrim(parts[0] ?? '').split('-');
    if (range.length > 2) return { ok: false, message: 'Open: bad port range (from-to expected)', text: written };
    const from = parsePort(cTrim(range[0] ?? ''));
    const to = range.length === 2 ? parsePort(cTrim(range[1] ?? '')) : from;
    if (from === undefined || to === undefined) return { ok: false, message: 'Open: bad port (1-65535 expected)', text: written };
    if (from > to) return { ok: false, message: 'Open: a range must go from the lower port to the higher', text: written };
    // nft's interval sets refuse overlapping elements, so one door's ports must not overlap.
    if (ports.some((port) => port.protocol === protocol && port.from <= to && from <= port.to)) {
      return { ok: false, message: 'Open: port given twice (or inside a range already given)', text: written };
    }
    ports.push({ protocol, from, to });
  }
  if (ports.length > MAX_OPEN_PORTS) return { ok: false, message: `Open: too many ports (at most ${MAX_OPEN_PORTS})`, text: value };
  return { ok: true, ports };
}

export function portText(port: OpenPort): string {
  return port.from === port.to ? `${port.from}` : `${port.from}-${port.to}`;
}

/** The value of an `Open =` line for these ports (parses back to them). */
export function formatOpenPorts(ports: readonly OpenPort[]): string {
  return ports.map((port) => `${portText(port)}:${port.protocol}`).join(', ');
}

/** `[options] Firewall` / `--firewall`: the backend, or undefined when the text names none. */
export function parseFirewallKind(text: string): FirewallKind | undefined {
  const checked = checkFirewall(text);
  return checked.ok ? checked.value : undefined;
}
export const DEFAULT_NFT_TABLE = 'nfknock';

/**
 * The doors with their `Open =` bound to `firewall` and, for nft, to the table ([options] Firewall and
 * NftTable, or --firewall which wins). The default table is left out, so records stay as they were.
 */
export function withFirewall(doors: readonly Door[], firewall: FirewallKind, nftTable = DEFAULT_NFT_TABLE): Door[] {
  return doors.map((door) => {
    if (door.open === undefined) return door;
    const open = { firewall, ports: door.open.ports, ...(firewall === 'nft' && nftTable !== DEFAULT_NFT_TABLE ? { table: nftTable } : {}) };
    return { ...door, open };
  });
}
