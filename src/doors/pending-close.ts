import type { DoorOpening, Family } from '../core/types.js';
import type { FirewallEpoch } from '../core/firewall-epoch.js';

/**
 * A door opened with a cmd_timeout: what closes it, already substituted, and when. The daemon persists
 * every one before the door opens (src/state/), so a crash or reboot cannot leave the door open.
 * At least one of `stopCommand` and `open` is present (the state file refuses a record with neither).
 */
export interface PendingClose {
  id: string;
  door: string;
  source: string;
  family: Family;
  /** Already substituted (%IP%, %TIMEOUT% replaced): exactly what runs. Absent for an `Open =` door without one. */
  stopCommand?: string;
  /** The kernel entries an `Open =` door added: removed at close, before the stop command (issue 13). */
  open?: DoorOpening;
  openedAt: number;
  closesAt: number;
  /** The boot and firewall load the door opened under (src/core/firewall-epoch.ts); optional. */
  firewall?: FirewallEpoch;
}

/** Two recorded closes that run exactly the same thing (a newer open of the same door for the same source). */
export function sameClose(a: PendingClose, b: PendingClose): boolean {
  return a.stopCommand === b.stopCommand && JSON.stringify(a.open) === JSON.stringify(b.open);
}
