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
  /** The last index found, checked before the Map: a flood comes in on one interface. */
  private lastIndex = 0;
  private lastName: string | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly sysClassNet = '/sys/class/net',
    private readonly refreshIntervalMs = 1000,
  ) {}

  nameOf(ifindex: number): string | undefined {
    if (ifindex === this.lastIndex) return this.lastName;
    let known = this.names.get(ifindex);
    if (known === undefined && ifindex !== 0) {
      const now = this.clock.now();
      if (now - this.lastRefresh < this.refreshIntervalMs) return undefined;
      this.lastRefresh = now;
      this.names = readInterfaceTable(this.sysClassNet);
      // The remembered index may be gone from the new table: look it up again.
      this.lastIndex = 0;
      this.lastName = undefined;
      known = this.names.get(ifindex);
    }
    if (known !== undefined) {
      this.lastIndex = ifindex;
      this.lastName = known;
    }
    return known;
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
