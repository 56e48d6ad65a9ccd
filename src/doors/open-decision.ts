import type { Door, Family } from '../core/types.js';
import { resolveStartCommand, resolveStopCommand } from '../config/commands.js';
import { substituteCommand } from '../config/substitute.js';
import type { DoorKeeper } from './door-keeper.js';
import type { PendingClose } from './pending-close.js';

/**
 * What one OPEN SESAME does, decided once for the daemon and for `nfknock simulate` alike. Neither
 * command has run and nothing is committed: the caller commits `pending` to the keeper, persists it,
 * then runs `startCommand`.
 */
export type OpenDecision =
  /** Run the start command (when the door has one); with `pending`, persist it first. */
  | { effect: 'start'; startCommand?: string; pending?: PendingClose }
  /** Already open for this source: the deadline moves, nothing runs (unless the last start failed). */
  | { effect: 'extend'; startCommand?: string; pending: PendingClose; previous: PendingClose };

/**
 * Both commands resolved for the knocker's family (knockd's IPv6 fallbacks) and substituted, and the
 * pending close planned: `cmd_timeout` after `at`, or the later of that and the deadline already set.
 */
export function decideOpen(keeper: DoorKeeper, door: Door, source: string, family: Family, at: number): OpenDecision {
  const start = resolveStartCommand(door, family);
  const withStart = start === undefined ? {} : { startCommand: substituteCommand(start, source) };
  const previous = keeper.openFor(door.name, source);
  if (previous) {
    return { effect: 'extend', ...withStart, previous, pending: { ...previous, closesAt: Math.max(previous.closesAt, at + door.cmdTimeoutMs) } };
  }
  const stop = resolveStopCommand(door, family);
  if (stop === undefined) return { effect: 'start', ...withStart };
  const pending = keeper.newPendingClose({ door: door.name, source, family, stopCommand: substituteCommand(stop, source), openedAt: at, closesAt: at + door.cmdTimeoutMs });
  return { effect: 'start', ...withStart, pending };
}
