/**
 * What the parser must refuse because the runtime would fail at every knock: "what `nfknock check`
 * accepts must work at every knock". Each rule here mirrors a check made later (the state format's
 * record checks, deriveSequence's spec check, the matcher's destination match), using the same
 * limits, so the two can never drift apart. Pure.
 */
import { canonicalAddress } from '../core/address.js';
import { MAX_ADDRESS_LENGTH, MAX_DOOR_NAME_LENGTH, MAX_STATE_COMMAND_LENGTH } from '../core/limits.js';
import type { Door } from '../core/types.js';
import { timeSequenceProblem } from '../timeseq/derive.js';
import { CONTROL_CHARACTER } from './text.js';

export interface RuntimeLimitProblem {
  message: string;
  line: number;
  text: string;
}

/** Stop commands are what the state file keeps (start commands only ever reach /bin/sh). */
const STOP_COMMAND_KEYS = [
  ['stopCommand', 'stop_command', 'Stop_Command'],
  ['stopCommand6', 'stop_command_6', 'Stop_Command_6'],
] as const;

/** Addresses no packet is ever sent to: a Target of one would make a door that never opens. */
const NEVER_A_DESTINATION = new Set(['0.0.0.0', '::']);

/** The longest a command can become once every %IP% is an address. */
export function longestSubstitution(command: string): number {
  const tokens = command.split('%IP%').length - 1;
  return command.length + tokens * (MAX_ADDRESS_LENGTH - '%IP%'.length);
}

export function runtimeLimitProblems(door: Door): RuntimeLimitProblem[] {
  const problems: RuntimeLimitProblem[] = [];
  const lineOf = (key: string) => door.keyLines[key] ?? door.line;
  if (door.name.length > MAX_DOOR_NAME_LENGTH) {
    problems.push({ message: `door name is ${door.name.length} characters; the state file holds at most ${MAX_DOOR_NAME_LENGTH}`, line: door.line, text: `${door.name.slice(0, 40)}...` });
  }
  for (const [field, key, name] of STOP_COMMAND_KEYS) {
    const command = door[field];
    if (command === undefined) continue;
    if (CONTROL_CHARACTER.test(command)) {
      problems.push({ message: `${name} holds a control character (other than tab): the state file cannot keep such a command`, line: lineOf(key), text: JSON.stringify(command).slice(1, -1) });
    } else if (longestSubstitution(command) > MAX_STATE_COMMAND_LENGTH) {
      problems.push({ message: `${name} can grow to ${longestSubstitution(command)} characters with %IP% replaced; at most ${MAX_STATE_COMMAND_LENGTH} can be kept`, line: lineOf(key), text: `${command.slice(0, 40)}...` });
    }
  }
  if (door.target !== undefined && NEVER_A_DESTINATION.has(door.target)) {
    problems.push({ message: 'Target is the unspecified address: no knock is ever sent to it, so the door could never open', line: lineOf('target'), text: door.target });
  }
  if (door.target !== undefined && canonicalAddress(door.target)?.address !== door.target) {
    problems.push({ message: 'Target must be an IPv4 or IPv6 address', line: lineOf('target'), text: door.target });
  }
  const spec = door.timeSequence;
  if (spec) {
    // The very check deriveSequence makes at every knock.
    const problem = timeSequenceProblem(spec);
    if (problem) problems.push({ message: `Sequence_Secret: ${problem}`, line: lineOf('sequence_secret'), text: 'Sequence_Secret = (not shown)' });
  }
  return problems;
}
