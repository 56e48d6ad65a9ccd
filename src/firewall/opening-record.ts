/** The `open` field of a persisted pending close, checked like every other field of the state file. Pure. */
import { FIREWALL_KINDS, MAX_OPEN_PORTS, NFT_TABLE_NAME_PATTERN, type DoorOpening, type FirewallKind, type OpenPort } from './open-ports.js';

export type { DoorOpening } from './open-ports.js';

/** The opening, rebuilt from checked fields only, or why it is unusable. */
export function checkOpening(raw: unknown): DoorOpening | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'must be an object';
  const { firewall, ports, table } = raw as Record<string, unknown>;
  if (!FIREWALL_KINDS.includes(firewall as FirewallKind)) return `firewall must be one of ${FIREWALL_KINDS.join(', ')}`;
  if (!Array.isArray(ports) || ports.length === 0 || ports.length > MAX_OPEN_PORTS) return `ports must be 1-${MAX_OPEN_PORTS} ports`;
  const checked: OpenPort[] = [];
  for (const port of ports as unknown[]) {
    if (typeof port !== 'object' || port === null) return 'a port is not an object';
    const { protocol, from, to } = port as Record<string, unknown>;
    if (protocol !== 'tcp' && protocol !== 'udp') return 'a port\'s protocol is not tcp or udp';
    if (!isPort(from) || !isPort(to) || from > to) return 'a port range is not 1 <= from <= to <= 65535';
    checked.push({ protocol, from, to });
  }
  if (table === undefined) return { firewall: firewall as FirewallKind, ports: checked };
  if (firewall !== 'nft' || typeof table !== 'string' || !NFT_TABLE_NAME_PATTERN.test(table)) return 'table must be an nft table name (nft only)';
  return { firewall: firewall as FirewallKind, ports: checked, table };
}

function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}
