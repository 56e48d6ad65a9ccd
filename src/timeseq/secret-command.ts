import { randomBytes } from 'node:crypto';
import { Command, Option } from 'commander';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import { writeFileAtomic } from '../state/atomic-file.js';
import type { TimeSequenceSpec } from '../core/types.js';
import { timeSequenceDefaults, timeSequenceProblem } from './derive.js';
import { formatSecretText } from './secret.js';
import { parsePortRange, parseProtocols, parseWholeNumber } from './spec.js';

export const SECRET_BYTES = 32;
export const SECRET_DIR = '/etc/nfknock/secrets';

export interface SecretCommandOptions {
  door: string;
  host?: string;
  /** Put the secret in the config itself instead of `@file`. */
  inline?: boolean;
  /** Write the secret to this file (mode 0600) instead of printing it. */
  write?: string;
  period?: number;
  length?: number;
  ports?: { portMin: number; portMax: number };
  protocols?: TimeSequenceSpec['protocols'];
}

/**
 * The text `nfknock secret` prints: the door section for the server's config and the client command.
 * Pure, so the snippet format is tested; the key names are the ones the config loader reads.
 */
export function secretInstructions(secretText: string, options: SecretCommandOptions): string {
  const door = options.door;
  const spec = specFrom(options);
  const secretFile = options.write ?? `${SECRET_DIR}/${door}`;
  const secretValue = options.inline ? secretText : `@${secretFile}`;
  const clientFlags = [
    spec.periodSeconds !== timeSequenceDefaults.periodSeconds ? `--period ${spec.periodSeconds}` : '',
    spec.length !== timeSequenceDefaults.length ? `--length ${spec.length}` : '',
    spec.portMin !== timeSequenceDefaults.portMin || spec.portMax !== timeSequenceDefaults.portMax ? `--ports ${spec.portMin}-${spec.portMax}` : '',
    spec.protocols !== timeSequenceDefaults.protocols ? `--protocols ${spec.protocols}` : '',
  ].filter((flag) => flag !== '');
  const lines: string[] = [];
  if (options.write === undefined) {
    lines.push(`# Secret (base32, ${SECRET_BYTES} random bytes). Keep it as private as an SSH key.`, secretText, '');
    if (!options.inline) {
      lines.push(
        '# On the server, store it where the door below reads it:',
        `install -d -m 700 ${SECRET_DIR} && (umask 077 && printf '%s\\n' '${secretText}' > ${shellQuote(secretFile)})`,
        '',
      );
    }
  } else {
    lines.push(`# Secret written to ${secretFile} (mode 0600); copy it to the server and to the client.`, '');
  }
  lines.push(
    '# Door for /etc/knockd.conf (nfknock):',
    `[${door}]`,
    `    Sequence_Secret    = ${secretValue}`,
    `    Sequence_Length    = ${spec.length}`,
    `    Sequence_Ports     = ${spec.portMin}-${spec.portMax}`,
    `    Sequence_Period    = ${spec.periodSeconds}`,
    `    Sequence_Protocols = ${spec.protocols}`,
    '    seq_timeout        = 10',
    '    tcpflags           = syn',
    '    start_command      = /sbin/iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    '    cmd_timeout        = 30',
    '    stop_command       = /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    '',
    '# On the client (the secret in a file readable only by you, or in an environment variable):',
    ['nfknock knock --secret ~/.config/nfknock/' + door + '.secret', `--door ${shellQuote(door)}`, ...clientFlags, options.host ?? 'HOST'].join(' '),
  );
  return `${lines.join('\n')}\n`;
}

export async function runSecretCommand(
  options: SecretCommandOptions,
  io: { out(text: string): void; random(size: number): Uint8Array } = { out: (text) => process.stdout.write(text), random: randomBytes },
): Promise<void> {
  if (!/^[^\s[\]\u0000]+$/.test(options.door)) {
    throw new NfknockError(ErrorCodes.USAGE, `door name ${JSON.stringify(options.door)} must be non-empty, without spaces or brackets`);
  }
  const problem = timeSequenceProblem(specFrom(options));
  if (problem) throw new NfknockError(ErrorCodes.USAGE, problem);
  const secretText = formatSecretText(io.random(SECRET_BYTES));
  if (options.write !== undefined) await writePrivateFile(options.write, `${secretText}\n`);
  io.out(secretInstructions(secretText, options));
}

/** Through the one atomic writer: 0600 from creation, fsynced, renamed, never a half-written secret. */
async function writePrivateFile(path: string, text: string): Promise<void> {
  try {
    await writeFileAtomic(path, text, 0o600);
  } catch (error) {
    const code = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    const denied = code === 'EACCES' || code === 'EPERM';
    throw new NfknockError(denied ? ErrorCodes.PERMISSION : ErrorCodes.STATE_IO, `cannot write secret file ${path}: ${code ?? String(error)}`, { cause: error });
  }
}

function specFrom(options: SecretCommandOptions): Omit<TimeSequenceSpec, 'secretFile' | 'secret'> {
  return {
    ...timeSequenceDefaults,
    ...(options.ports ?? {}),
    ...(options.period === undefined ? {} : { periodSeconds: options.period }),
    ...(options.length === undefined ? {} : { length: options.length }),
    ...(options.protocols === undefined ? {} : { protocols: options.protocols }),
  };
}

function shellQuote(text: string): string {
  return /^[\w./@%+=:,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Defines `nfknock secret`; the CLI only calls this. */
export function registerSecretCommand(program: Command): Command {
  return program
    .command('secret')
    .description('make a random secret for a time-based door and print the door and client command that use it')
    .requiredOption('--door <name>', 'door name (the [section] in the config)')
    .option('--host <host>', 'server name to put in the client command line')
    .option('--inline', 'put the secret in the config instead of a secret file')
    .option('--write <file>', 'write the secret to <file> (mode 0600) instead of printing it')
    .addOption(new Option('--period <seconds>', 'step length').argParser((v: string) => parseWholeNumber(v, 'period')))
    .addOption(new Option('--length <n>', 'number of knocks').argParser((v: string) => parseWholeNumber(v, 'length')))
    .addOption(new Option('--ports <a-b>', 'port range').argParser(parsePortRange))
    .addOption(new Option('--protocols <p>', 'tcp, udp or mixed').argParser(parseProtocols))
    .action(async (options: SecretCommandOptions) => {
      await runSecretCommand(options);
    });
}
