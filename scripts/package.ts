/**
 * `npm run package`: release/nfknock-<version>.tgz (npm pack) and release/nfknock_<version>_<arch>.deb
 * (dpkg-deb, for the host's architecture: amd64 or arm64). The .deb vendors the production dependencies
 * under /usr/lib/nfknock with only this architecture's netlink prebuild, and runs with Debian's nodejs.
 * lintian, when installed, must find no error.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { captureProgram, renderManPage } from './lib/manpage.js';
import { nfknockdSections, nfknockSections } from './lib/manpage-text.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { name: string; version: string; description: string };
/** Debian architecture -> the netlink prebuild directory node-gyp-build loads on it. */
const prebuildFor: Record<string, string> = { amd64: 'linux-x64', arm64: 'linux-arm64' };
/** Production dependencies that are not needed at run time: C++ headers and type declarations. */
const buildOnly = new Set(['node-addon-api', '@types/node']);
const maintainer = 'nfknock maintainers <nfknock@users.noreply.github.com>';

function run(command: string, args: string[], cwd = repo): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

function write(path: string, text: string | Buffer, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}

function gzip(text: string | Buffer): Buffer {
  // -n equivalent: no name or time in the header, so builds are reproducible.
  return gzipSync(text, { level: 9 });
}

/** Paths (relative to the repo) of the production dependency packages. */
function productionPackages(): string[] {
  return run('npm', ['ls', '--omit=dev', '--all', '--parseable'])
    .split('\n')
    .map((line) => relative(repo, line.trim()))
    .filter((path) => path.startsWith('node_modules/') && !buildOnly.has(path.replace(/^.*node_modules\//, '')));
}

/** Files of a vendored package that ship: no docs, sources, tests, type declarations or source maps. */
function shipped(source: string, arch: string): boolean {
  const name = source.split('/').pop() as string;
  if (source.includes('/node_modules/') && name === 'node_modules') return false;
  // VCS and editor files, the packages' web docs (pino's index.html loads scripts from CDNs), and the
  // type declarations' directories, which would be left empty.
  if (name.startsWith('.') || name.endsWith('.html') || name === 'types') return false;
  if (/\.(md|markdown|ts|map|gyp|cc|h|c)$/i.test(name) && !name.endsWith('.d.js')) return false;
  if (/^(LICENSE|LICENCE|COPYING|CHANGELOG|HISTORY|AUTHORS)(\..*)?$/i.test(name)) return false;
  if (['test', 'tests', 'benchmarks', 'docs', 'example', 'examples', '.github', 'src'].includes(name) && !source.endsWith('/dist/src')) return false;
  const prebuild = /\/prebuilds\/([^/]+)/.exec(source);
  return prebuild === null || prebuild[1] === prebuildFor[arch];
}

function licenseTexts(packages: string[]): string {
  const parts: string[] = [];
  for (const path of packages) {
    const dir = join(repo, path);
    const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; license?: string };
    const file = readdirSync(dir).find((entry) => /^(LICENSE|LICENCE|COPYING)/i.test(entry));
    const text = file ? readFileSync(join(dir, file), 'utf8').trim() : `${meta.license ?? 'unknown'} (no license file shipped)`;
    parts.push(`Files: usr/lib/nfknock/${path}/*\nCopyright: the ${meta.name} authors\nLicense: ${meta.license ?? 'unknown'}\n${text.split('\n').map((line) => (line.trim() === '' ? ' .' : ` ${line}`)).join('\n')}`);
  }
  return parts.join('\n\n');
}

/** A shared object is not executable, and ships stripped (as dh_strip would leave it). */
function finishNativeModule(path: string): void {
  chmodSync(path, 0o644);
  run('strip', ['--remove-section=.comment', '--remove-section=.note', '--strip-unneeded', path]);
}

const wrapper = (script: string) => `#!/bin/sh\nexec /usr/bin/node /usr/lib/nfknock/dist/src/cli/${script} "$@"\n`;

async function manPages(root: string): Promise<void> {
  const date = new Date(Number(process.env['SOURCE_DATE_EPOCH'] ?? statSync(join(repo, 'package.json')).mtimeMs / 1000) * 1000).toISOString().slice(0, 10);
  const pages = [
    { name: 'nfknockd', section: 8 as const, module: 'nfknockd.js', extra: nfknockdSections, seeAlso: ['nfknock(1)', 'knockd(1)', 'systemd.service(5)', 'iptables(8)', 'nft(8)'] },
    { name: 'nfknock', section: 1 as const, module: 'nfknock.js', extra: nfknockSections, seeAlso: ['nfknockd(8)', 'knock(1)'] },
  ];
  for (const page of pages) {
    const program = await captureProgram(pathToFileURL(join(repo, 'dist/src/cli', page.module)).href);
    const text = renderManPage(program, { ...page, version: pkg.version, date });
    write(join(root, `usr/share/man/man${page.section}/${page.name}.${page.section}.gz`), gzip(text));
  }
}

function control(arch: string, installedKb: number): string {
  return [
    'Package: nfknock',
    // A native package: built by upstream from the repository, the version is package.json's.
    `Version: ${pkg.version}`,
    `Architecture: ${arch}`,
    `Maintainer: ${maintainer}`,
    `Installed-Size: ${installedKb}`,
    // libc6: netlink's prebuilt module needs glibc 2.14 (objdump -T); nodejs pulls it in anyway.
    'Depends: nodejs (>= 20), iptables | nftables, libc6 (>= 2.14)',
    'Suggests: knockd, ipset, rsyslog',
    'Section: net',
    'Priority: optional',
    'Homepage: https://github.com/nfknock/nfknock',
    `Description: port-knocking daemon reading knocks from netfilter, not sniffing`,
    ' nfknockd opens doors like knockd and reads an unchanged knockd.conf, but it',
    ' does not put an interface under libpcap: firewall rules log each packet to a',
    ' knock port with NFLOG (or LOG), and the daemon reads those events from',
    ' netlink, /dev/kmsg or a file written by rsyslog.',
    ' .',
    ' Pending closes are written to disk before a door opens, so a crash or reboot',
    ' never leaves a door open. The nfknock tool generates the firewall rules,',
    ' checks a config, replays a kernel log offline and sends knocks; hardened',
    ' systemd units are included. Installing starts nothing.',
    '',
  ].join('\n');
}

function duBytes(root: string): number {
  let total = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else total += statSync(path).size;
    }
  };
  walk(root);
  return total;
}

function md5sums(root: string): string {
  const lines: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) lines.push(`${createHash('md5').update(readFileSync(path)).digest('hex')}  ${relative(root, path)}`);
    }
  };
  for (const top of readdirSync(root)) if (top !== 'DEBIAN' && top !== 'etc') walk(join(root, top));
  return `${lines.join('\n')}\n`;
}

async function buildDeb(arch: string, release: string): Promise<string> {
  const staging = mkdtempSync(join(tmpdir(), 'nfknock-deb-'));
  try {
    const root = join(staging, 'root');
    const lib = join(root, 'usr/lib/nfknock');
    const doc = join(root, 'usr/share/doc/nfknock');
    cpSync(join(repo, 'dist/src'), join(lib, 'dist/src'), { recursive: true, filter: (source) => !source.endsWith('.map') });
    write(join(lib, 'package.json'), `${JSON.stringify({ name: pkg.name, version: pkg.version, type: 'module', private: true }, null, 2)}\n`);
    const packages = productionPackages();
    for (const path of packages) cpSync(join(repo, path), join(lib, path), { recursive: true, filter: (source) => source === join(repo, path) || shipped(source, arch) });
    finishNativeModule(join(lib, 'node_modules/netlink/prebuilds', prebuildFor[arch] as string, 'node.napi.node'));
    // The CLIs run through the wrappers below: their `#!/usr/bin/env node` lines would make them scripts.
    for (const cli of ['nfknockd.js', 'nfknock.js', 'nfknockd-reload.js']) {
      const path = join(lib, 'dist/src/cli', cli);
      write(path, readFileSync(path, 'utf8').replace(/^#!.*\n/, '\n'));
    }
    write(join(root, 'usr/sbin/nfknockd'), wrapper('nfknockd.js'), 0o755);
    write(join(root, 'usr/bin/nfknock'), wrapper('nfknock.js'), 0o755);
    write(join(lib, 'nfknockd-reload'), wrapper('nfknockd-reload.js'), 0o755);
    write(join(lib, 'nfknock-firewall'), readFileSync(join(repo, 'packaging/nfknock-firewall')), 0o755);
    for (const unit of ['nfknockd.service', 'nfknock-firewall.service']) write(join(root, 'usr/lib/systemd/system', unit), readFileSync(join(repo, 'systemd', unit)));
    write(join(root, 'usr/lib/tmpfiles.d/nfknock.conf'), readFileSync(join(repo, 'packaging/debian/tmpfiles.conf')));
    write(join(root, 'etc/logrotate.d/nfknock'), readFileSync(join(repo, 'rules/logrotate-nfknock')));
    await manPages(root);
    write(join(doc, 'README.md'), readFileSync(join(repo, 'README.md')));
    write(join(doc, 'deploying.md'), readFileSync(join(repo, 'docs/deploying.md')));
    write(join(doc, 'examples/knockd.conf'), readFileSync(join(repo, 'packaging/knockd.conf.example')));
    write(join(doc, 'examples/rsyslog-nfknock.conf'), readFileSync(join(repo, 'rules/rsyslog-nfknock.conf')));
    write(join(doc, 'copyright'), `${readFileSync(join(repo, 'packaging/debian/copyright'), 'utf8').trimEnd()}\n\n${licenseTexts(packages)}\n`);
    const changelogDate = run('date', ['-R', '-u', '-d', `@${process.env['SOURCE_DATE_EPOCH'] ?? Math.floor(statSync(join(repo, 'package.json')).mtimeMs / 1000)}`]).trim();
    write(join(doc, 'changelog.gz'), gzip(`nfknock (${pkg.version}) unstable; urgency=medium\n\n  * Built from the nfknock repository by npm run package.\n\n -- ${maintainer}  ${changelogDate}\n`));
    write(join(root, 'usr/share/lintian/overrides/nfknock'), readFileSync(join(repo, 'packaging/debian/lintian-overrides')));
    const debian = join(root, 'DEBIAN');
    for (const script of ['postinst', 'prerm', 'postrm']) write(join(debian, script), readFileSync(join(repo, 'packaging/debian', script)), 0o755);
    write(join(debian, 'conffiles'), '/etc/logrotate.d/nfknock\n');
    write(join(debian, 'md5sums'), md5sums(root));
    write(join(debian, 'control'), control(arch, Math.ceil(duBytes(root) / 1024)));
    const deb = join(release, `nfknock_${pkg.version}_${arch}.deb`);
    run('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', root, deb]);
    return deb;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const arch = run('dpkg', ['--print-architecture']).trim();
  if (!(arch in prebuildFor)) {
    process.stderr.write(`npm run package: architecture ${arch} is not supported (amd64, arm64)\n`);
    return 69;
  }
  if (!existsSync(join(repo, 'node_modules/netlink/prebuilds', prebuildFor[arch] as string))) {
    process.stderr.write(`npm run package: node_modules/netlink has no ${prebuildFor[arch]} prebuild; run npm ci first\n`);
    return 69;
  }
  const release = join(repo, 'release');
  mkdirSync(release, { recursive: true });
  run('npm', ['pack', '--pack-destination', release, '--ignore-scripts']);
  const deb = await buildDeb(arch, release);
  console.log(`${join(release, `${pkg.name}-${pkg.version}.tgz`)}\n${deb}`);
  try {
    run('lintian', ['--version']);
  } catch {
    console.log('lintian is not installed: not checked (apt-get install lintian)');
    return 0;
  }
  try {
    const output = execFileSync('lintian', ['--fail-on', 'error', '--display-info', deb], { encoding: 'utf8' });
    console.log(output.trim() === '' ? 'lintian: clean' : `lintian:\n${output}`);
    return 0;
  } catch (error) {
    console.error(`lintian found errors:\n${(error as { stdout?: string }).stdout ?? String(error)}`);
    return 1;
  }
}

process.exitCode = await main();
