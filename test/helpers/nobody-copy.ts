/**
 * Tests that drop privileges to `nobody` cannot read a checkout under /root or in any 0700 directory.
 * They run from this copy instead: the built tree, package.json and the runtime dependencies, in a
 * temp directory `nobody` can read. The checkout itself is never opened up.
 */
import { chmodSync, cpSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout: this file is dist/test/helpers/nobody-copy.js. */
const checkout = fileURLToPath(new URL('../../../', import.meta.url));

let copy: string | undefined;

/** Root of the readable copy (made once per test process, removed when it exits). */
export function nobodyReadableRoot(): string {
  if (copy !== undefined) return copy;
  const root = mkdtempSync(join(tmpdir(), 'nfknock-nobody-'));
  process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  cpSync(join(checkout, 'package.json'), join(root, 'package.json'));
  cpSync(join(checkout, 'dist'), join(root, 'dist'), { recursive: true });
  for (const dependency of runtimeDependencies()) {
    cpSync(join(checkout, dependency), join(root, dependency), { recursive: true });
  }
  openUpForOthers(root);
  copy = root;
  return root;
}

/** The copy of a file of the checkout, e.g. `dist/src/cli/nfknockd.js`. */
export function nobodyReadablePath(relative: string): string {
  return join(nobodyReadableRoot(), relative);
}

/** node_modules/<name> of every package the daemon needs at run time, from package-lock.json. */
function runtimeDependencies(): string[] {
  const lock = JSON.parse(readFileSync(join(checkout, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  return Object.entries(lock.packages)
    .filter(([path, entry]) => path.startsWith('node_modules/') && entry.dev !== true && !path.includes('/node_modules/', 'node_modules/'.length))
    .map(([path]) => path);
}

/** Directories 0755, files o+r (o+x when the owner may execute): a checkout made under umask 077 copies 0600. */
function openUpForOthers(path: string): void {
  const info = lstatSync(path);
  if (info.isSymbolicLink()) return;
  if (info.isDirectory()) {
    chmodSync(path, 0o755);
    for (const name of readdirSync(path)) openUpForOthers(join(path, name));
    return;
  }
  chmodSync(path, (info.mode & 0o777) | 0o044 | ((info.mode & 0o100) !== 0 ? 0o011 : 0));
}
