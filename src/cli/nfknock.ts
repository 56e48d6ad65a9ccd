#!/usr/bin/env node
import { Command } from 'commander';
import { runCli } from './run-cli.js';
import { registerCommands, type CommandModules } from './lazy-commands.js';
import { packageVersion } from './version.js';

const program = new Command('nfknock')
  .description('nfknock tools: knock, generate firewall rules, check and simulate a knockd.conf, show open doors')
  .version(packageVersion(), '-V, --version', 'display the version')
  .helpOption('-h, --help', 'this help text');

/** Each subcommand's module, loaded only when that subcommand runs (or for the full help). */
const commands: CommandModules = new Map<string, () => Promise<(program: Command) => Command>>([
  ['knock', async () => (await import('../client/command.js')).registerKnockCommand],
  ['connect', async () => (await import('../client/connect-command.js')).registerConnectCommand],
  ['sequence', async () => (await import('../client/sequence-command.js')).registerSequenceCommand],
  ['rules', async () => (await import('../rules/command.js')).registerRulesCommand],
  ['check', async () => (await import('../check/command.js')).registerCheckCommand],
  ['apply', async () => (await import('../apply/command.js')).registerApplyCommand],
  ['simulate', async () => (await import('../simulate/command.js')).registerSimulateCommand],
  ['status', async () => (await import('../status/command.js')).registerStatusCommand],
  ['secret', async () => (await import('../timeseq/secret-command.js')).registerSecretCommand],
]);
await registerCommands(program, commands);

await runCli(program);
