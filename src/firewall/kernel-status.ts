/**
 * `nfknock status`'s kernel half: each entry in nfknock's sets with the time the kernel still keeps it,
 * next to what the state file records, and every mismatch between the two. Pure.
 */
import type { PendingClose } from '../doors/pending-close.js';
import type { KernelView } from './kernel-edge.js';
import { compareWithState, type KernelEntry, type Mismatch } from './kernel-view.js';
import { portText, type FirewallKind } from './open-ports.js';
import { escapeControlCharacters } from '../logging/knockd-format.js';
import { table } from '../status/status.js';

const SET_NAMES: Record<FirewallKind, string> = { nft: 'nft inet nfknock open4/open6', ipset: 'ipset nfknock-open4/nfknock-open6' };

export interface KernelReport {
  views: KernelView[];
  mismatches: Mismatch[];
}

/**
 * Backends not installed or without nfknock's sets are only reported when a recorded door uses them
 * (or the user asked for them): a host that never used ipset need not hear about it.
 */
export function kernelReport(views: readonly KernelView[], pending: readonly PendingClose[], asked: readonly FirewallKind[]): KernelReport {
  const used = new Set<FirewallKind>([...asked, ...pending.flatMap((p) => (p.open ? [p.open.firewall] : []))]);
  const shown = views.filter((view) => view.available || used.has(view.firewall));
  const available = shown.filter((view): view is Extract<KernelView, { available: true }> => view.available);
  const entries = available.flatMap((view) => view.entries);
  return { views: shown, mismatches: compareWithState(entries, pending, available.map((view) => view.firewall)) };
}

export function formatKernelReport(report: KernelReport, pending: readonly PendingClose[]): string[] {
  const lines: string[] = [];
  for (const view of report.views) {
    lines.push('', `Kernel (${SET_NAMES[view.firewall]}):`);
    if (!view.available) {
      lines.push(`  not readable: ${view.reason}`);
      continue;
    }
    if (view.entries.length === 0) {
      lines.push('  no entries: no Open = door is open');
      continue;
    }
    const rows = view.entries.map((entry) => [entry.source, `${portText(entry.port)}/${entry.port.protocol}`, expiry(entry), doorOf(entry, pending)]);
    lines.push(...table(['SOURCE', 'PORT', 'KERNEL CLOSES IN', 'DOOR'], rows).map((line) => `  ${line}`));
  }
  for (const mismatch of report.mismatches) lines.push(`mismatch: ${describeMismatch(mismatch)}`);
  return lines;
}

export function kernelReportJson(report: KernelReport): Record<string, unknown> {
  return {
    kernel: report.views.map((view) =>
      view.available
        ? { firewall: view.firewall, entries: view.entries.map((e) => ({ source: e.source, protocol: e.port.protocol, from: e.port.from, to: e.port.to, secondsLeft: e.expiresInSeconds ?? null })) }
        : { firewall: view.firewall, unavailable: view.reason },
    ),
    mismatches: report.mismatches,
  };
}

function describeMismatch(mismatch: Mismatch): string {
  if (mismatch.kind === 'not-in-state') {
    return `${mismatch.source} ${mismatch.port} is in the kernel's ${mismatch.firewall} set but not in the state file (added by hand, by a command, or the state was lost); the kernel removes it when its timeout ends`;
  }
  return `door ${escapeControlCharacters(mismatch.door ?? '?')} for ${mismatch.source} (${mismatch.port}) is recorded but has no ${mismatch.firewall} entry: expired, removed, or the set was reloaded`;
}

function expiry(entry: KernelEntry): string {
  return entry.expiresInSeconds === undefined ? 'never (no timeout)' : `${entry.expiresInSeconds}s`;
}

function doorOf(entry: KernelEntry, pending: readonly PendingClose[]): string {
  const door = pending.find((p) => p.source === entry.source && p.open?.firewall === entry.firewall && p.open.ports.some((port) => port.protocol === entry.port.protocol && port.from <= entry.port.from && entry.port.to <= port.to));
  return door === undefined ? '-' : escapeControlCharacters(door.door);
}
