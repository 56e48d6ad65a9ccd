/**
 * Where an `Open =` door meets the door logic: which kernel call opens it for a knocker, which one
 * closes a recorded door, and how both read in logs and `simulate`. Pure; the daemon's door service
 * and simulate share these, so they cannot disagree about what runs.
 */
import type { Door, Family } from '../core/types.js';
import type { PendingClose } from '../runner/state-format.js';
import { describeCall, putCall, removeCall, type FirewallCall } from './operations.js';

/** Adds (or renews) the knocker's entries with a kernel timeout of the door's cmd_timeout. */
export function openCallFor(door: Door, source: string, family: Family): FirewallCall | undefined {
  return door.open === undefined ? undefined : putCall(door.open, source, family, Math.ceil(door.cmdTimeoutMs / 1000));
}

export function removalCallFor(pending: PendingClose): FirewallCall | undefined {
  return pending.open === undefined ? undefined : removeCall(pending.open, pending.source, pending.family);
}

/** What closing a recorded door runs, as one line: the kernel removal first, then the stop command. */
export function describeClose(pending: PendingClose): string {
  const removal = removalCallFor(pending);
  return [removal && describeCall(removal), pending.stopCommand].filter((part): part is string => part !== undefined).join(' ; then ');
}

/** What opening runs for a knocker, as one line (simulate, check). */
export function describeOpen(door: Door, source: string, family: Family, startCommand: string | undefined): string | undefined {
  const call = openCallFor(door, source, family);
  const parts = [call && describeCall(call), startCommand].filter((part): part is string => part !== undefined);
  return parts.length === 0 ? undefined : parts.join(' ; then ');
}

/** Two recorded closes that run exactly the same thing (a newer open of the same door for the same source). */
export function sameClose(a: PendingClose, b: PendingClose): boolean {
  return a.stopCommand === b.stopCommand && JSON.stringify(a.open) === JSON.stringify(b.open);
}
