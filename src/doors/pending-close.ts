import type { Family } from '../core/types.js';
import type { FirewallEpoch } from '../core/firewall-epoch.js';

/**
 * A door opened with a cmd_timeout: its stop command, already substituted, and when it runs. The
 * daemon persists every one before the start command runs (src/state/), so a crash or reboot cannot
 * leave the door open.
 */
export interface PendingClose {
  id: string;
  door: string;
  source: string;
  family: Family;
  /** Already substituted (%IP% replaced): exactly what runs. */
  stopCommand: string;
  openedAt: number;
  closesAt: number;
  /** The boot and firewall load the door opened under (src/core/firewall-epoch.ts); optional. */
  firewall?: FirewallEpoch;
}
