import { Command, Option } from 'commander';
import type { Family } from '../core/types.js';
import { KNOCK_HOOKS, type KnockHook } from '../rules/generate.js';
import { oneTimeSteps } from '../state/one-time-file.js';
import { formatDrift } from './live.js';
import { checkLiveFirewall, daemonExpectation } from './live-read.js';
import { ErrorCodes, exitStatusByCode, NfknockError } from '../core/errors.js';
import { canonicalAddress } from '../core/address.js';
import { loadConfig } from '../config/load.js';
import { checkConfig, formatCheckReport } from './check.js';
import { readListening } from './listening.js';
import { trustProblems } from './trust.js';

interface CheckFlags {
  config: string;
  example: string;
  json?: boolean;
  strict?: boolean;
  live?: boolean;
  hook: KnockHook;
  family: '4' | '6' | 'both';
}

/** `nfknock check`: exit 0 for a config the daemon would run, non-zero with line-numbered errors otherwise. */
export function registerCheckCommand(program: Command): Command {
  return program
    .command('check')
    .description('validate a knockd.conf: print each door, its commands for an example address, and warnings')
    .option('-c, --config <file>', 'knockd.conf to check', '/etc/knockd.conf')
    .option('--example <address>', 'address to substitute for %IP% in the printed commands', '203.0.113.7')
    .option('--json', 'machine-readable output')
    .option('--strict', 'exit non-zero when there are warnings too')
    .option('--live', 'compare the firewall the kernel has loaded (iptables-save, ip6tables-save, nft) with the marks the config needs; exit 1 naming each difference and its fix')
    .addOption(new Option('--hook <hook>', 'with --live: where the marks should be (as nfknock rules --hook)').choices([...KNOCK_HOOKS]).default('input'))
    .addOption(new Option('--family <n>', 'with --live: the address families to compare').choices(['4', '6', 'both']).default('both'))
    .action(async (flags: CheckFlags) => {
      const example = canonicalAddress(flags.example);
      if (!example) throw new NfknockError(ErrorCodes.USAGE, '--example must be an IP address', { location: { text: flags.example } });
      const config = await loadConfig(flags.config);
      if (flags.live) {
        const families: Family[] = flags.family === 'both' ? [4, 6] : [Number(flags.family) as Family];
        const expectation = { ...daemonExpectation(config), hook: flags.hook, families, oneTimeSteps: await oneTimeSteps(config) };
        const drifts = await checkLiveFirewall(config, expectation);
        process.stdout.write(flags.json ? `${JSON.stringify(drifts, null, 2)}\n` : formatDrift(drifts));
        if (drifts.length > 0) process.exitCode = 1;
        return;
      }
      const report = checkConfig(config, await readListening(), example.address);
      process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatCheckReport(report));
      const warnings = report.warnings.filter((warning) => warning.severity === 'warning');
      if (flags.strict && warnings.length > 0) process.exitCode = 1;
      // What nfknockd would refuse to trust at start: errors, whatever --strict says.
      const untrusted = await trustProblems(config);
      for (const problem of untrusted) process.stderr.write(`${config.file}: error: ${problem}\n`);
      if (untrusted.length > 0) process.exitCode = exitStatusByCode[ErrorCodes.UNTRUSTED];
    });
}
