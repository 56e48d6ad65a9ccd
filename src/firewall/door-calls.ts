/**
 * Where an `Open =` door meets the door logic: which kernel call opens it for a knocker, which one
 * closes a recorded door, and how both read in logs and `simulate`. Pure; the daemon's door service
 * and simulate share these, so they cannot disagree about what runs.
 */
import type { Door, Family } from '../core/types.js';
import type { PendingClose } from '../doors/pending-close.js';
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

/** What opening runs for a knocker (the open decision's calls), as one line: simulate, check. */
export function describeOpen(toRun: { openCall?: FirewallCall; startCommand?: string }): string | undefined {
  const parts = [toRun.openCall && describeCall(toRun.openCall), toRun.startCommand].filter((part): part is string => part !== undefined);
  return parts.length === 0 ? undefined : parts.join(' ; then ');
}
