import type { Door, Family } from '../core/types.js';
import { resolveStartCommand, resolveStopCommand } from '../config/commands.js';
import { substituteCommand } from '../config/substitute.js';
import { openCallFor } from '../firewall/door-calls.js';
import type { FirewallCall } from '../firewall/operations.js';
import type { DoorKeeper } from './door-keeper.js';
import type { PendingClose } from './pending-close.js';

/**
 * What one OPEN SESAME does, decided once for the daemon and for `nfknock simulate` alike. Nothing
 * has run and nothing is committed: the caller commits `pending` to the keeper, persists it, then runs
 * `openCall` (an `Open =` door's kernel entries) and `startCommand`, in that order.
 */
export type OpenDecision =
  /** Add the kernel entries and run the start command (each when the door has one); with `pending`, persist it first. */
  | { effect: 'start'; openCall?: FirewallCall; startCommand?: string; pending?: PendingClose }
  /**
   * Already open for this source: the deadline moves and `openCall` renews the kernel timeout; the
   * start command runs again only if the last start failed.
   */
  | { effect: 'extend'; openCall?: FirewallCall; startCommand?: string; pending: PendingClose; previous: PendingClose };

/**
 * Both commands resolved for the knocker's family (knockd's IPv6 fallbacks) and substituted, the
 * kernel call of an `Open =` door built, and the pending close planned: `cmd_timeout` after `at`, or
 * the later of that and the deadline already set. An `Open =` door gets a pending close even without
 * a stop command: its kernel entries are removed at cmd_timeout like one.
 */
export function decideOpen(keeper: DoorKeeper, door: Door, source: string, family: Family, at: number): OpenDecision {
  const start = resolveStartCommand(door, family);
  const openCall = openCallFor(door, source, family);
  const toRun = {
    ...(openCall === undefined ? {} : { openCall }),
    ...(start === undefined ? {} : { startCommand: substituteCommand(start, source, door.cmdTimeoutMs) }),
  };
  const previous = keeper.openFor(door.name, source);
  if (previous) {
    return { effect: 'extend', ...toRun, previous, pending: { ...previous, closesAt: Math.max(previous.closesAt, at + door.cmdTimeoutMs) } };
  }
  const stop = resolveStopCommand(door, family);
  if (stop === undefined && door.open === undefined) return { effect: 'start', ...toRun };
  const pending = keeper.newPendingClose({
    door: door.name,
    source,
    family,
    ...(stop === undefined ? {} : { stopCommand: substituteCommand(stop, source, door.cmdTimeoutMs) }),
    ...(door.open === undefined ? {} : { open: door.open }),
    openedAt: at,
    closesAt: at + door.cmdTimeoutMs,
  });
  return { effect: 'start', ...toRun, pending };
}
