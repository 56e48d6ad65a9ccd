import { Command, Option } from 'commander';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import { integerFlag } from '../core/whole-number.js';
import { addKnockOptions, defaultKnockCommandIo, knockAsPlanned, planFromArguments, type KnockCommandIo } from './command.js';
import { connectAndJoin } from './connect.js';
import type { ResolvedHost } from './knock.js';
import type { KnockFlags } from './plan.js';

export const DEFAULT_WAIT_SECONDS = 10;
const MAX_WAIT_SECONDS = 3600;

export interface ConnectIo extends KnockCommandIo {
  /** Waits for `port` to accept, then joins stdin/stdout to the connection until it closes. */
  join(target: ResolvedHost, port: number, waitMs: number): Promise<void>;
}

export const defaultConnectIo: ConnectIo = {
  ...defaultKnockCommandIo,
  join: (target, port, waitMs) => connectAndJoin(target, port, waitMs, process.stdin, process.stdout),
};

export interface ConnectFlags extends KnockFlags {
  wait?: number;
}

/** Commander's parser for PORT and --wait: the project's one integer flag parser. */
export const parseServicePort = (text: string): number => integerFlag(text, 'PORT', 1, 65535);
const parseWait = (text: string): number => integerFlag(text, '--wait', 1, MAX_WAIT_SECONDS);

export async function runConnectCommand(host: string, portText: string, ports: string[], flags: ConnectFlags, io: ConnectIo = defaultConnectIo): Promise<void> {
  const port = parseServicePort(portText);
  // stdout carries the connection: verbose knock lines go to stderr.
  const quiet: ConnectIo = { ...io, out: io.warn };
  const plan = await planFromArguments(host, ports, flags, quiet);
  const targets = await knockAsPlanned(plan, flags, quiet);
  const target = targets[0];
  if (!target) throw new NfknockError(ErrorCodes.INTERNAL, 'the knock reported no address to connect to');
  await io.join(target, port, (flags.wait ?? DEFAULT_WAIT_SECONDS) * 1000);
}

/** `nfknock connect HOST PORT [knock arguments]`: knock, wait for PORT, then act as ssh's ProxyCommand. */
export function registerConnectCommand(program: Command, io: ConnectIo = defaultConnectIo): Command {
  const command = program
    .command('connect')
    .description('knock, wait until PORT accepts, then join stdin/stdout to the connection (for ssh\'s ProxyCommand)')
    .usage('[options] <host|alias> <port> [--] [port[:proto]] ...')
    .argument('<host>', 'host name, address, or alias from the client config')
    .argument('<port>', 'the TCP port to connect to once the door is open (e.g. 22)')
    .argument('[ports...]', 'the knock sequence: PORT, PORT:tcp or PORT:udp, in order (after --)');
  return addKnockOptions(command)
    .addOption(new Option('--wait <seconds>', `how long PORT may take to accept after the knock (default ${DEFAULT_WAIT_SECONDS})`).argParser(parseWait))
    .action(async (host: string, port: string, ports: string[], flags: ConnectFlags) => {
      await runConnectCommand(host, port, ports, flags, io);
    });
}
