/**
 * `sudo npm run demo` on a fresh host: the system tools it lacks are installed with apt-get, saying
 * what and why, unless the user said --no-install (then the exact command is printed instead).
 */
import { spawnSync } from 'node:child_process';
import { installHint, missingTools, packagesFor, whichTool } from './tools.js';

export interface InstallOutcome {
  /** Tools still missing afterwards (empty when everything is there now). */
  missing: string[];
  /** What to tell the user when something is still missing. */
  problem?: string;
}

export function installMissingTools(
  tools: readonly string[],
  reasons: ReadonlyMap<string, string>,
  options: { allowed: boolean; log: (line: string) => void },
): InstallOutcome {
  const missing = missingTools(tools);
  if (missing.length === 0) return { missing };
  const hint = installHint(missing);
  if (!options.allowed) return { missing, problem: `Missing system tools: ${missing.join(', ')} (--no-install given).\n  Install them with: ${hint}` };
  if (whichTool('apt-get') === undefined) return { missing, problem: `Missing system tools: ${missing.join(', ')}, and no apt-get to install them.\n  Install the packages that provide them (on Debian: ${hint})` };
  const packages = packagesFor(missing);
  options.log(`Installing ${packages.join(', ')} with apt-get, for:`);
  for (const tool of missing) options.log(`  ${tool}: ${reasons.get(tool) ?? 'used by the demo'}`);
  options.log('(run with --no-install to refuse and install them yourself)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
  // A fresh host (a container, a new VM) may have no package lists yet: update once and try again.
  if (install().status !== 0 && (spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env }).status !== 0 || install().status !== 0)) {
    return { missing: missingTools(tools), problem: `apt-get could not install ${packages.join(' ')}; install them yourself: ${hint}` };
  }
  const still = missingTools(tools);
  return still.length === 0 ? { missing: still } : { missing: still, problem: `still missing after apt-get: ${still.join(', ')}` };
}
