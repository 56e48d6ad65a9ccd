import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { Family, KnockStep, TimeSequenceSpec } from '../core/types.js';
import { deriveSequence, timeSequenceDefaults, timeSequenceProblem, timeStepAt } from '../timeseq/derive.js';
import { parseSecretText } from '../timeseq/secret.js';
import { parsePortRange, parseProtocols, parseWholeNumber } from '../timeseq/spec.js';
import { sendKnocks, type SendKnocksOptions } from './knock.js';
import { forceUdp, parseDelay, parseKnockTargets } from './targets.js';

/** The flags of `nfknock knock`, as commander hands them over (already parsed by the option parsers). */
export interface KnockCommandOptions {
  udp?: boolean;
  delay?: number;
  ipv4?: boolean;
  ipv6?: boolean;
  verbose?: boolean;
  secret?: string;
  secretEnv?: string;
  door?: string;
  period?: number;
  length?: number;
  ports?: { portMin: number; portMax: number };
  protocols?: TimeSequenceSpec['protocols'];
}

/** Everything the command touches outside itself, so tests can run it without a network or a clock. */
export interface KnockCommandIo {
  now(): number;
  readFile(path: string): Promise<string>;
  env: Record<string, string | undefined>;
  out(line: string): void;
  warn(line: string): void;
  send(host: string, steps: KnockStep[], options: SendKnocksOptions): Promise<void>;
}

export const defaultKnockCommandIo: KnockCommandIo = {
  now: () => Date.now(),
  readFile: (path) => readFile(path, 'utf8'),
  env: process.env,
  out: (line) => process.stdout.write(`${line}\n`),
  warn: (line) => process.stderr.write(`${line}\n`),
  send: sendKnocks,
};

const TIME_FLAGS = ['door', 'period', 'length', 'ports', 'protocols'] as const;

export async function runKnockCommand(host: string, ports: string[], options: KnockCommandOptions, io: KnockCommandIo = defaultKnockCommandIo): Promise<void> {
  if (options.ipv4 && options.ipv6) throw new NfknockError(ErrorCodes.USAGE, '-4 and -6 cannot be used together');
  const family: Family | undefined = options.ipv4 ? 4 : options.ipv6 ? 6 : undefined;
  const timed = options.secret !== undefined || options.secretEnv !== undefined;
  const steps = timed ? await timeBasedSteps(ports, options, io) : fixedSteps(ports, options, io);
  await io.send(host, steps, {
    delayMs: options.delay ?? 0,
    ...(family === undefined ? {} : { family }),
    ...(options.verbose ? { verbose: io.out } : {}),
  });
}

function fixedSteps(ports: string[], options: KnockCommandOptions, io: KnockCommandIo): KnockStep[] {
  const stray = TIME_FLAGS.filter((flag) => options[flag] !== undefined);
  if (stray.length > 0) {
    throw new NfknockError(ErrorCodes.USAGE, `--${stray.join(', --')} ${stray.length === 1 ? 'makes' : 'make'} sense only with --secret or --secret-env`);
  }
  if (ports.length === 0) throw new NfknockError(ErrorCodes.USAGE, 'no ports to knock on: give at least one PORT[:tcp|udp], or --secret and --door');
  if (!options.udp) return parseKnockTargets(ports, 'tcp');
  const { steps, overridden } = forceUdp(ports);
  if (overridden.length > 0) io.warn(`nfknock: -u sends every knock as UDP, as knock does, including ${overridden.join(' ')}`);
  return steps;
}

async function timeBasedSteps(ports: string[], options: KnockCommandOptions, io: KnockCommandIo): Promise<KnockStep[]> {
  if (options.secret !== undefined && options.secretEnv !== undefined) throw new NfknockError(ErrorCodes.USAGE, 'give --secret or --secret-env, not both');
  if (ports.length > 0) throw new NfknockError(ErrorCodes.USAGE, `ports are derived from the secret; remove ${ports.join(' ')}`);
  if (options.udp) throw new NfknockError(ErrorCodes.USAGE, '-u cannot be used with a secret; use --protocols udp');
  const door = options.door;
  if (door === undefined || door === '') throw new NfknockError(ErrorCodes.USAGE, '--door NAME is needed with a secret: the sequence depends on the door name');
  const secret = await loadSecret(options, io);
  const spec: TimeSequenceSpec & { secret: Uint8Array } = {
    ...timeSequenceDefaults,
    ...(options.ports ?? {}),
    ...(options.period === undefined ? {} : { periodSeconds: options.period }),
    ...(options.length === undefined ? {} : { length: options.length }),
    ...(options.protocols === undefined ? {} : { protocols: options.protocols }),
    secret,
  };
  const problem = timeSequenceProblem(spec);
  if (problem) throw new NfknockError(ErrorCodes.USAGE, problem);
  return deriveSequence(spec, door, timeStepAt(io.now(), spec.periodSeconds));
}

async function loadSecret(options: KnockCommandOptions, io: KnockCommandIo): Promise<Uint8Array> {
  if (options.secretEnv !== undefined) {
    const value = io.env[options.secretEnv];
    if (value === undefined) throw new NfknockError(ErrorCodes.USAGE, `environment variable ${options.secretEnv} is not set`);
    return parseSecretText(value, `$${options.secretEnv}`);
  }
  const path = options.secret as string;
  let text: string;
  try {
    text = await io.readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new NfknockError(ErrorCodes.USAGE, `cannot read secret file ${path}: ${code}`, { cause: error });
  }
  return parseSecretText(text, path);
}

/** Commander's option parsers must throw to reject a value; NfknockError keeps the stable code. */
const wholeNumber = (what: string) => (value: string) => parseWholeNumber(value, what);

/** Defines `knock` with knock(1)'s flags plus the time-based ones; the CLI only calls this. */
export function registerKnockCommand(program: Command, io: KnockCommandIo = defaultKnockCommandIo): Command {
  return program
    .command('knock')
    .description('send a knock sequence, like knockd\'s knock client (or the current time-based sequence of a door)')
    .usage('[options] <host> <port[:proto]> [port[:proto]] ...')
    .argument('<host>', 'host name or address to knock on')
    .argument('[ports...]', 'PORT, PORT:tcp or PORT:udp, in order')
    .option('-u, --udp', 'make all port hits use UDP (default is TCP)')
    .addOption(new Option('-d, --delay <ms>', 'wait <ms> milliseconds between port hits').argParser(parseDelay))
    .option('-4, --ipv4', 'force usage of IPv4')
    .option('-6, --ipv6', 'force usage of IPv6')
    .option('-v, --verbose', 'be verbose')
    .option('--secret <file>', 'time-based door: file holding the base32 secret')
    .option('--secret-env <var>', 'time-based door: environment variable holding the base32 secret')
    .option('--door <name>', 'time-based door: the door name as in the server\'s config')
    .addOption(new Option('--period <seconds>', `time-based door: step length (default ${timeSequenceDefaults.periodSeconds})`).argParser(wholeNumber('period')))
    .addOption(new Option('--length <n>', `time-based door: number of knocks (default ${timeSequenceDefaults.length})`).argParser(wholeNumber('length')))
    .addOption(
      new Option('--ports <a-b>', `time-based door: port range (default ${timeSequenceDefaults.portMin}-${timeSequenceDefaults.portMax})`).argParser(parsePortRange),
    )
    .addOption(new Option('--protocols <p>', `time-based door: tcp, udp or mixed (default ${timeSequenceDefaults.protocols})`).argParser(parseProtocols))
    .action(async (host: string, ports: string[], options: KnockCommandOptions) => {
      await runKnockCommand(host, ports, options, io);
    });
}
