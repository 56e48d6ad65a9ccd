import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../core/types.js';

/**
 * Maps the kernel's interface indexes (NFULA_IFINDEX_INDEV) to names. os.networkInterfaces() has no
 * indexes and skips interfaces without addresses, so /sys/class/net/<name>/ifindex is read instead.
 * The table is read again when an index is unknown (an interface appeared or was re-created), at most
 * once per `refreshIntervalMs` so a burst of packets from a vanished interface costs one directory read.
 */
export class InterfaceNames {
  private names = new Map<number, string>();
  private lastRefresh = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    private readonly sysClassNet = '/sys/class/net',
    private readonly refreshIntervalMs = 1000,
  ) {}

  nameOf(ifindex: number): string | undefined {
    const known = this.names.get(ifindex);
    if (known !== undefined || ifindex === 0) return known;
    const now = this.clock.now();
    if (now - this.lastRefresh < this.refreshIntervalMs) return undefined;
    this.lastRefresh = now;
    this.names = readInterfaceTable(this.sysClassNet);
    return this.names.get(ifindex);
  }
}

export function readInterfaceTable(sysClassNet: string): Map<number, string> {
  const table = new Map<number, string>();
  let entries: string[];
  try {
    entries = readdirSync(sysClassNet);
  } catch {
    return table;
  }
  for (const name of entries) {
    try {
      const index = Number(readFileSync(join(sysClassNet, name, 'ifindex'), 'utf8').trim());
      if (Number.isInteger(index) && index > 0) table.set(index, name);
    } catch {
      // vanished between readdir and read, or not an interface directory
    }
  }
  return table;
}
