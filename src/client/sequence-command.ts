import type { Command } from 'commander';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { KnockStep } from '../core/types.js';
import { defaultClientConfigPath } from './client-config-path.js';
import { addKnockOptions, currentSteps, defaultKnockCommandIo, type KnockCommandIo } from './command.js';
import { planKnock, secondsLeftInStep, type KnockFlags } from './plan.js';

/** knock(1)'s and phone apps' argument form: `41017:udp 45210:udp 40033:udp`. */
export function formatKnockArguments(steps: readonly KnockStep[]): string {
  return steps.map((step) => `${step.port}:${step.protocol}`).join(' ');
}

/**
 * Prints the current sequence of a door on stdout (only it, so `knock HOST $(nfknock sequence ...)`
 * works) and, on stderr, how many seconds of its step are left.
 */
export async function runSequenceCommand(alias: string | undefined, flags: KnockFlags, io: KnockCommandIo = defaultKnockCommandIo): Promise<void> {
  const timed = flags.secret !== undefined || flags.secretEnv !== undefined;
  if (timed && alias !== undefined) throw new NfknockError(ErrorCodes.USAGE, `give an alias or --secret/--secret-env, not both (${alias})`);
  if (!timed && alias === undefined) {
    throw new NfknockError(ErrorCodes.USAGE, 'which door? give an alias of the client config, or --secret FILE (or --secret-env VAR) and --door NAME');
  }
  const host = alias === undefined ? undefined : await io.loadHost(flags.config, alias);
  if (alias !== undefined && !host) {
    throw new NfknockError(ErrorCodes.USAGE, `${alias} is not an alias of the client config ${flags.config ?? defaultClientConfigPath(io.env) ?? '(none: HOME is not set)'}`);
  }
  const plan = planKnock(alias ?? '', [], flags, host);
  const at = io.now();
  const { steps, step } = await currentSteps(plan, io, at);
  io.out(formatKnockArguments(steps));
  if (plan.sequence.kind === 'time' && step !== undefined) {
    const period = plan.sequence.spec.periodSeconds;
    io.warn(`nfknock: ${secondsLeftInStep(at, period, step)} s left in this step (steps are ${period} s; the server also accepts the previous step's sequence)`);
  }
}

export function registerSequenceCommand(program: Command, io: KnockCommandIo = defaultKnockCommandIo): Command {
  const command = program
    .command('sequence')
    .description('print the current sequence of a time-based door (or an alias\'s) as PORT:PROTO arguments for knock(1) or phone apps, and the seconds left in its step')
    .usage('[options] [alias]')
    .argument('[alias]', 'an alias from the client config (instead of --secret and --door)');
  return addKnockOptions(command).action(async (alias: string | undefined, flags: KnockFlags) => {
    await runSequenceCommand(alias, flags, io);
  });
}
