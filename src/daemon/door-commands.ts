import type { PendingClose } from '../doors/pending-close.js';
import { removalCallFor } from '../firewall/door-calls.js';
import { describeCall, removalDone, type FirewallCall } from '../firewall/operations.js';
import type { CommandKind, CommandOutcome, CommandQueue, CommandRan } from '../runner/command-queue.js';
import type { Counters } from './counters.js';
import type { DoorPorts } from './door-service.js';

/** What opening a door runs: an `Open =` door's kernel call, then its start command (each optional). */
export interface ToRun {
  openCall?: FirewallCall;
  startCommand?: string;
}

/** The door ports that run through `queue`: shell commands and nft/ipset calls under the same bounds. */
export function queuedRunners(queue: CommandQueue, timeoutMs: number): Pick<DoorPorts, 'runCommand' | 'runProgram' | 'commandTimeoutMs'> {
  return {
    runCommand: (command, kind, about) => queue.execute({ kind, command, timeoutMs, ...about }),
    runProgram: (call, kind, about) => queue.execute({ kind, command: describeCall(call), argv: call.argv, ...(call.input === undefined ? {} : { input: call.input }), timeoutMs, ...about }),
    commandTimeoutMs: timeoutMs,
  };
}

/**
 * Runs the steps of an open or a close, each logged knockd's way: `running command: ...` shows
 * exactly what runs, nft/ipset calls included, and its result follows. Every step is bounded by the
 * command queue; a refusal comes back as a value and counts as a failure.
 */
export class DoorCommands {
  constructor(
    private readonly ports: DoorPorts,
    private readonly counters: Counters,
  ) {}

  /** The kernel entries first, then the start command. True when every step succeeded. */
  async open(door: string, source: string, toRun: ToRun): Promise<boolean> {
    const opened = toRun.openCall === undefined || (await this.run(toRun.openCall, 'start', door, source));
    const started = toRun.startCommand === undefined || (await this.run(toRun.startCommand, 'start', door, source));
    return opened && started;
  }

  /**
   * The kernel entries first (they are what lets the knocker in; an entry already expired counts as
   * removed), then the stop command. True when the door is closed.
   */
  async close(pending: PendingClose): Promise<boolean> {
    const removal = removalCallFor(pending);
    const firewall = pending.open?.firewall;
    const removed = removal === undefined || firewall === undefined || (await this.run(removal, 'stop', pending.door, pending.source, (ran) => removalDone(firewall, ran)));
    const stopped = pending.stopCommand === undefined || (await this.run(pending.stopCommand, 'stop', pending.door, pending.source));
    return removed && stopped;
  }

  /** True when the step ran and `done` says it did its work (by default: exited 0 in time). */
  private async run(step: string | FirewallCall, kind: CommandKind, door: string, source: string, done: (ran: CommandRan) => boolean = succeeded): Promise<boolean> {
    const { audit, clock } = this.ports;
    audit.running(clock.now(), source, door, typeof step === 'string' ? step : describeCall(step), kind);
    this.counters.commands++;
    const about = { door, source };
    const outcome = typeof step === 'string' ? await this.ports.runCommand(step, kind, about) : await this.runProgram(step, kind, about);
    if (outcome.refused !== undefined) {
      audit.refused(clock.now(), source, door, outcome.refused);
      return false;
    }
    audit.commandResult(clock.now(), source, door, outcome, this.ports.commandTimeoutMs, kind);
    return done(outcome);
  }

  private runProgram(call: FirewallCall, kind: CommandKind, about: { door: string; source: string }): Promise<CommandOutcome> {
    if (this.ports.runProgram === undefined) return Promise.resolve({ refused: 'this daemon cannot run nft/ipset (no runProgram port)' });
    return this.ports.runProgram(call, kind, about);
  }
}

function succeeded(ran: CommandRan): boolean {
  return ran.exitCode === 0 && !ran.timedOut;
}
