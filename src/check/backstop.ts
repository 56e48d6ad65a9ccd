/**
 * Does opening a door leave something in the kernel that expires by itself (issue 13)? A free-text
 * door's ACCEPT rule stays until its stop command runs: if nfknockd, its state and systemd all fail
 * first, it stays for good. `Open =` doors, and commands that add nft/ipset entries with a timeout,
 * are closed by the kernel. Pure.
 */
import type { Door } from '../core/types.js';
import { resolveStartCommand } from '../config/commands.js';
import { formatOpenPorts, parseOpenPorts } from '../firewall/open-ports.js';

/** `timeout 30s` (nft element), `timeout 30` (ipset add), or the %TIMEOUT% token. */
const KERNEL_TIMEOUT = /%TIMEOUT%|\btimeout\s+\d/;
const IPTABLES_PORT = /(?:^|\s)-p\s+(tcp|udp)\b[^;&|]*?--dports?\s+([0-9:,]+)/g;
const NFT_ELEMENT_PORT = /\.\s*(tcp|udp)\s*\.\s*([0-9]+(?:-[0-9]+)?)/g;

/** The `Open =` line that would replace the door's commands, or undefined when it needs no backstop. */
export function missingBackstop(door: Door): { openLine: string } | undefined {
  if (door.open !== undefined) return undefined;
  const starts = [resolveStartCommand(door, 4), resolveStartCommand(door, 6)].filter((command): command is string => command !== undefined);
  if (starts.length === 0 || starts.some((command) => KERNEL_TIMEOUT.test(command))) return undefined;
  // Without Start_Command_6 both families run the same command: its ports are read once.
  return { openLine: `Open = ${suggestedPorts(starts[1] === starts[0] ? starts.slice(0, 1) : starts)}` };
}

function suggestedPorts(commands: readonly string[]): string {
  const written: string[] = [];
  for (const command of commands) {
    // The literal each pattern needs, looked for first: `check` runs this for every door.
    if (command.includes('--dport')) {
      for (const [, protocol, ports] of command.matchAll(IPTABLES_PORT)) {
        for (const port of (ports ?? '').split(',')) written.push(`${port.replace(':', '-')}:${protocol}`);
      }
    }
    if (command.includes('.')) for (const [, protocol, port] of command.matchAll(NFT_ELEMENT_PORT)) written.push(`${port}:${protocol}`);
  }
  const parsed = parseOpenPorts([...new Set(written)].join(','));
  return parsed.ok ? formatOpenPorts(parsed.ports) : 'PORT:tcp';
}
