import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { registerCommands, type CommandModules } from '../src/cli/lazy-commands.js';

function modules(loaded: string[]): CommandModules {
  const entry = (name: string) => [name, async () => {
    loaded.push(name);
    return (program: Command) => program.command(name);
  }] as const;
  return new Map([entry('knock'), entry('rules'), entry('check')]);
}

test('a named subcommand loads only its own module', async () => {
  const loaded: string[] = [];
  const program = new Command('nfknock');
  await registerCommands(program, modules(loaded), ['node', 'nfknock', 'knock', '-v', 'host', '7000']);
  assert.deepEqual(loaded, ['knock']);
  assert.deepEqual(program.commands.map((c) => c.name()), ['knock']);
});

test('the help, a typo or no subcommand load every module, so the help lists them all', async () => {
  for (const argv of [['node', 'nfknock', '--help'], ['node', 'nfknock', 'chek'], ['node', 'nfknock'], ['node', 'nfknock', 'help', 'rules']]) {
    const loaded: string[] = [];
    const program = new Command('nfknock');
    await registerCommands(program, modules(loaded), argv);
    assert.deepEqual(program.commands.map((c) => c.name()), ['knock', 'rules', 'check'], argv.join(' '));
  }
});
