import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import { integerFlag } from '../core/whole-number.js';
import { applyWithRollback, confirmApply, DEFAULT_RUNTIME_DIR, rollbackNow, runRollbackTimer } from './apply.js';
import { RULES_KINDS, sniffRulesKind, type RulesKind } from './kinds.js';

interface ApplyFlags {
  confirmWithin?: string;
  confirm?: boolean;
  rollback?: boolean;
  type?: RulesKind;
  runtimeDir: string;
  rollbackTimer?: string;
}

const MAX_RULES_BYTES = 64 * 1024 * 1024;

/**
 * `nfknock apply FILE --confirm-within SECONDS`, then `nfknock apply --confirm`: iptables-apply for
 * playbooks. Exit statuses (sysexits): 0 done; 65 the file was refused, nothing changed; 66 nothing
 * waits for confirmation; 69 a tool is missing; 71 loading failed (the previous ruleset is back);
 * 73 another apply waits for confirmation; 75 too late, the previous ruleset was restored; 77 the
 * runtime dir is not root's alone.
 */
export function registerApplyCommand(program: Command): Command {
  return program
    .command('apply')
    .description('load an iptables-restore, ip6tables-restore, nft -f or ipset restore file; restore the previous ruleset unless "nfknock apply --confirm" comes in time')
    .argument('[file]', 'the rules file (its kind is recognised by its content)')
    .option('--confirm-within <seconds>', 'restore the previous ruleset after this long unless confirmed')
    .option('--confirm', 'keep the ruleset the pending apply loaded')
    .option('--rollback', 'restore the previous ruleset now')
    .addOption(new Option('--type <kind>', 'the kind of file, when its content does not tell').choices([...RULES_KINDS]))
    .option('--runtime-dir <dir>', "where the pending apply and the saved ruleset are kept (root's alone)", DEFAULT_RUNTIME_DIR)
    .addOption(new Option('--rollback-timer <id>').hideHelp())
    .action(async (file: string | undefined, flags: ApplyFlags) => {
      if (flags.rollbackTimer !== undefined) return runRollbackTimer(flags.runtimeDir, flags.rollbackTimer);
      const modes = [file !== undefined, flags.confirm === true, flags.rollback === true].filter(Boolean).length;
      if (modes !== 1) throw new NfknockError(ErrorCodes.USAGE, 'give exactly one of: FILE --confirm-within SECONDS, --confirm, --rollback');
      if (flags.confirm) {
        const confirmed = await confirmApply(flags.runtimeDir);
        process.stdout.write(`confirmed: keeping ${confirmed.file} (${confirmed.kind}, apply ${confirmed.id})\n`);
        return;
      }
      if (flags.rollback) {
        const outcome = await rollbackNow(flags.runtimeDir);
        process.stdout.write(`${outcome.outcome}: ${outcome.detail ?? ''}\n`);
        if (outcome.outcome !== 'rolled-back') process.exitCode = 71;
        return;
      }
      if (flags.confirmWithin === undefined) throw new NfknockError(ErrorCodes.USAGE, 'apply FILE needs --confirm-within SECONDS (the rollback is what makes it safe)');
      const seconds = integerFlag(flags.confirmWithin, '--confirm-within', 1, 86_400);
      const text = await readRulesFile(file as string);
      const kind = flags.type ?? sniffRulesKind(text);
      const pending = await applyWithRollback({ file: file as string, text, kind, confirmWithinSeconds: seconds, runtimeDir: flags.runtimeDir });
      process.stdout.write(`applied ${pending.file} (${kind}); the previous ruleset comes back at ${new Date(pending.deadline).toISOString()} unless "nfknock apply --confirm" runs first\n`);
    });
}

async function readRulesFile(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new NfknockError(ErrorCodes.CONFIG_READ, `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  if (bytes.length > MAX_RULES_BYTES) throw new NfknockError(ErrorCodes.RULES_REJECTED, `${file} is larger than ${MAX_RULES_BYTES} bytes`);
  return bytes.toString('utf8');
}
