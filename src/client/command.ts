import { lstat, readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { KnockStep } from '../core/types.js';
import { deriveSequence, timeSequenceDefaults, timeStepAt } from '../timeseq/derive.js';
import { parseSecretText } from '../timeseq/secret.js';
import { parsePortRange, parseProtocols, parseWholeNumber } from '../timeseq/spec.js';
import type { ClientHost } from './client-config.js';
import { defaultClientConfigPath } from './client-config-path.js';
import { sendKnocks, type ResolvedHost, type SendKnocksOptions } from './knock.js';
import { planKnock, type KnockFlags, type KnockPlan, type SecretSource } from './plan.js';
import { parseDelay } from './targets.js';

/** Everything the client commands touch outside themselves, so tests can run them without a network or a clock. */
export interface KnockCommandIo {
  now(): number;
  readFile(path: string): Promise<string>;
  env: Record<string, string | undefined>;
  out(line: string): void;
  warn(line: string): void;
  /** The alias `name` of the client config (`-F FILE`, or the default one), secret loaded; undefined when none. */
  loadHost(file: string | undefined, name: string): Promise<ClientHost | undefined>;
  /** Sends the knocks; resolves with the addresses knocked, first the one a connection should use. */
  send(host: string, steps: KnockStep[], options: SendKnocksOptions): Promise<ResolvedHost[]>;
}

export const defaultKnockCommandIo: KnockCommandIo = {
  now: () => Date.now(),
  readFile: (path) => readFile(path, 'utf8'),
  env: process.env,
  out: (line) => process.stdout.write(`${line}\n`),
  warn: (line) => process.stderr.write(`${line}\n`),
  loadHost: (file, name) => loadHostIfConfigured(file, name, process.env),
  send: sendKnocks,
};

/**
 * The client config's loader, and the config parser behind it, is loaded only when there is a config
 * to read: `nfknock knock HOST PORT...` without one starts about as fast as bare node (BENCHMARKS.md).
 * A default config that exists, or any `-F` file, goes through `loadClientHost` and all its checks.
 */
export async function loadHostIfConfigured(file: string | undefined, name: string, env: Record<string, string | undefined>): Promise<ClientHost | undefined> {
  const path = file ?? defaultClientConfigPath(env);
  if (path === undefined) return undefined;
  if (file === undefined && !(await lstat(path).then(() => true, (error: NodeJS.ErrnoException) => error.code !== 'ENOENT'))) return undefined;
  const { loadClientHost } = await import('./client-config-load.js');
  return loadClientHost(file, name, env);
}

/** Reads the alias (if `host` is one) and plans the knock; shared by knock, connect and sequence. */
export async function planFromArguments(host: string, ports: string[], flags: KnockFlags, io: KnockCommandIo): Promise<KnockPlan> {
  const alias = host === '' ? undefined : await io.loadHost(flags.config, host);
  return planKnock(host, ports, flags, alias);
}

/** The steps to knock now: the fixed ones, or the current step's derivation by the server's own code. */
export async function currentSteps(plan: KnockPlan, io: KnockCommandIo, at: number = io.now()): Promise<{ steps: KnockStep[]; step?: number }> {
  const sequence = plan.sequence;
  if (sequence.kind === 'fixed') return { steps: sequence.steps };
  const secret = await loadSecret(sequence.secret, io);
  const step = timeStepAt(at, sequence.spec.periodSeconds);
  return { steps: deriveSequence({ ...sequence.spec, secret }, sequence.door, step), step };
}

/** Knocks as planned; resolves with the addresses knocked. */
export async function knockAsPlanned(plan: KnockPlan, flags: KnockFlags, io: KnockCommandIo): Promise<ResolvedHost[]> {
  if (plan.overriddenByUdp.length > 0) io.warn(`nfknock: -u sends every knock as UDP, as knock does, including ${plan.overriddenByUdp.join(' ')}`);
  const { steps } = await currentSteps(plan, io);
  return io.send(plan.host, steps, {
    delayMs: plan.delayMs,
    ...(plan.families === 'first' ? {} : { family: plan.families }),
    ...(flags.verbose ? { verbose: io.out } : {}),
  });
}

export async function runKnockCommand(host: string, ports: string[], flags: KnockFlags, io: KnockCommandIo = defaultKnockCommandIo): Promise<void> {
  await knockAsPlanned(await planFromArguments(host, ports, flags, io), flags, io);
}

async function loadSecret(source: SecretSource, io: KnockCommandIo): Promise<Uint8Array> {
  if (source.kind === 'loaded') return source.bytes;
  if (source.kind === 'env') {
    const value = io.env[source.name];
    if (value === undefined) throw new NfknockError(ErrorCodes.USAGE, `environment variable ${source.name} is not set`);
    return parseSecretText(value, `$${source.name}`);
  }
  let text: string;
  try {
    text = await io.readFile(source.path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new NfknockError(ErrorCodes.USAGE, `cannot read secret file ${source.path}: ${code}`, { cause: error });
  }
  return parseSecretText(text, source.path);
}

/** Commander's option parsers must throw to reject a value; NfknockError keeps the stable code. */
const wholeNumber = (what: string) => (value: string) => parseWholeNumber(value, what);

/** The options knock, connect and sequence share: knock(1)'s, the client config's and the time-based ones. */
export function addKnockOptions(command: Command): Command {
  return command
    .option('-u, --udp', 'make all port hits use UDP (default is TCP)')
    .addOption(new Option('-d, --delay <ms>', 'wait <ms> milliseconds between port hits').argParser(parseDelay))
    .option('-4, --ipv4', 'force usage of IPv4 (with -6, written -46: both families)')
    .option('-6, --ipv6', 'force usage of IPv6 (with -4, written -46: both families)')
    .option('--all-families', 'knock over IPv4 and IPv6 when the host name has both (same as -46)')
    .option('-v, --verbose', 'be verbose')
    .option('-F, --config <file>', 'client config with host aliases (default $XDG_CONFIG_HOME/nfknock/client.conf or ~/.config/nfknock/client.conf)')
    .option('--secret <file>', 'time-based door: file holding the base32 secret')
    .option('--secret-env <var>', 'time-based door: environment variable holding the base32 secret')
    .option('--door <name>', 'time-based door: the door name as in the server\'s config')
    .addOption(new Option('--period <seconds>', `time-based door: step length (default ${timeSequenceDefaults.periodSeconds})`).argParser(wholeNumber('period')))
    .addOption(new Option('--length <n>', `time-based door: number of knocks (default ${timeSequenceDefaults.length})`).argParser(wholeNumber('length')))
    .addOption(
      new Option('--ports <a-b>', `time-based door: port range (default ${timeSequenceDefaults.portMin}-${timeSequenceDefaults.portMax})`).argParser(parsePortRange),
    )
    .addOption(new Option('--protocols <p>', `time-based door: tcp, udp or mixed (default ${timeSequenceDefaults.protocols})`).argParser(parseProtocols));
}

/** Defines `knock` with knock(1)'s flags plus the time-based ones and aliases; the CLI only calls this. */
export function registerKnockCommand(program: Command, io: KnockCommandIo = defaultKnockCommandIo): Command {
  const command = program
    .command('knock')
    .description('send a knock sequence, like knockd\'s knock client (or the current time-based sequence of a door, or an alias\'s)')
    .usage('[options] <host|alias> [port[:proto]] ...')
    .argument('<host>', 'host name, address, or alias from the client config')
    .argument('[ports...]', 'PORT, PORT:tcp or PORT:udp, in order');
  return addKnockOptions(command).action(async (host: string, ports: string[], flags: KnockFlags) => {
    await runKnockCommand(host, ports, flags, io);
  });
}
