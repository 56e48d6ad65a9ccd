import { CommanderError, type Command } from 'commander';
import { exitStatusFor, isNfknockError } from '../core/errors.js';

/**
 * The one place where errors become exit statuses: commander's own usage errors exit 64 (EX_USAGE),
 * an NfknockError exits with the status of its code, anything else is a bug and exits 70.
 */
export async function runCli(program: Command, argv: readonly string[] = process.argv): Promise<void> {
  program.exitOverride();
  for (const command of program.commands) command.exitOverride();
  try {
    await program.parseAsync(argv as string[]);
  } catch (error) {
    process.exitCode = reportError(program.name(), error);
  }
}

export function reportError(name: string, error: unknown): number {
  if (error instanceof CommanderError) {
    // commander already printed its message (or the help / version text).
    return error.exitCode === 0 ? 0 : 64;
  }
  if (isNfknockError(error)) {
    process.stderr.write(`${name}: ${error.describe()}\n`);
    return exitStatusFor(error);
  }
  process.stderr.write(`${name}: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return exitStatusFor(error);
}
