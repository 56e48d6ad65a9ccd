import type { Command } from 'commander';

export type CommandModules = ReadonlyMap<string, () => Promise<(program: Command) => Command>>;

/**
 * Registers only the subcommand named on the command line, so `nfknock knock` does not load the rule
 * generator, the simulator and pino first; without a known subcommand (the help, a typo) all of them,
 * so the help lists every one and commander's "unknown command" suggestions still work.
 */
export async function registerCommands(program: Command, modules: CommandModules, argv: readonly string[] = process.argv): Promise<void> {
  const named = argv.slice(2).find((arg) => !arg.startsWith('-'));
  const only = named === undefined ? undefined : modules.get(named);
  const loaders = only ? [only] : [...modules.values()];
  for (const register of await Promise.all(loaders.map((load) => load()))) register(program);
}
