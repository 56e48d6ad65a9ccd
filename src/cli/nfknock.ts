#!/usr/bin/env node
import { Command } from 'commander';
import { registerKnockCommand } from '../client/command.js';
import { registerRulesCommand } from '../rules/command.js';
import { registerCheckCommand } from '../check/command.js';
import { registerSecretCommand } from '../timeseq/secret-command.js';
import { registerSimulateCommand } from '../simulate/command.js';
import { registerStatusCommand } from '../status/command.js';
import { registerApplyCommand } from '../apply/command.js';
import { runCli } from './run-cli.js';
import { packageVersion } from './version.js';

const program = new Command('nfknock')
  .description('nfknock tools: knock, generate firewall rules, check and simulate a knockd.conf, show open doors')
  .version(packageVersion(), '-V, --version', 'display the version')
  .helpOption('-h, --help', 'this help text');

registerKnockCommand(program);
registerRulesCommand(program);
registerCheckCommand(program);
registerSimulateCommand(program);
registerStatusCommand(program);
registerSecretCommand(program);
registerApplyCommand(program);

await runCli(program);
