import type { Door, Family } from '../core/types.js';

/**
 * The command to run when `door` opens for a knocker of `family`, as knockd's process_attempt
 * picks it: for IPv6, Start_Command_6 when the config has it (even empty), else Start_Command.
 * An empty command means "do nothing" (knockd skips it), so it comes back as undefined.
 */
export function resolveStartCommand(door: Door, family: Family): string | undefined {
  const command = family === 6 ? (door.startCommand6 ?? door.startCommand) : door.startCommand;
  return command === '' ? undefined : command;
}

/**
 * The command to run Cmd_Timeout after the start command, with the same IPv6 fallback. knockd
 * only runs a stop command after its start command, so there is none when there is no start.
 */
export function resolveStopCommand(door: Door, family: Family): string | undefined {
  if (resolveStartCommand(door, family) === undefined) return undefined;
  const command = family === 6 ? (door.stopCommand6 ?? door.stopCommand) : door.stopCommand;
  return command === '' ? undefined : command;
}
