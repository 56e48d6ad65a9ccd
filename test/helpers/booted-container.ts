/**
 * A Debian 13 (trixie) system booted with systemd-nspawn inside a lab's server network namespace, for
 * tests of the .deb and the units under a real systemd. The rootfs is built once per machine with
 * debootstrap (from the mirror apt already uses) into /var/cache/nfknock-test and never written to: each
 * container runs on an overlay whose upper layer is deleted at teardown.
 *
 * How it boots here (measured): PID 1 of a CI machine is often not systemd, so nspawn runs with
 * --register=no --keep-unit in a cgroup of its own on the unified hierarchy, with
 * SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 (the container sees pure cgroup v2, like a stock host), and
 * --system-call-filter=bpf (without it IPAddressDeny= is silently not enforced in the container).
 * Commands run in the container with nsenter into its namespaces; systemctl talks to its PID 1.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../../scripts/lib/netns.js';

export const ROOTFS_CACHE = '/var/cache/nfknock-test';
/** Bump the name when the package list changes: a cached rootfs is never modified. */
const ROOTFS_NAME = 'trixie-v1';
const ROOTFS_PACKAGES = 'systemd,systemd-sysv,dbus,iptables,nftables,nodejs,iproute2,procps,kmod,util-linux';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(argv: readonly string[], timeoutMs = 120_000, input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(argv[0] as string, argv.slice(1), { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** The archive apt on this machine uses (deb.debian.org or a mirror), for debootstrap. */
function debianMirror(): string {
  for (const file of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const uri = /^URIs:\s*(\S+\/debian)\/?\s*$/m.exec(text)?.[1] ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s/m.exec(text)?.[1];
    if (uri) return uri;
  }
  return 'http://deb.debian.org/debian';
}

/** The cached rootfs, built on first use (several minutes; then seconds). */
export async function cachedRootfs(log: (line: string) => void): Promise<string> {
  const target = join(ROOTFS_CACHE, ROOTFS_NAME);
  if (existsSync(join(target, 'usr/bin/node'))) return target;
  mkdirSync(ROOTFS_CACHE, { recursive: true });
  const building = join(ROOTFS_CACHE, `building-${ROOTFS_NAME}-${process.pid}`);
  rmSync(building, { recursive: true, force: true });
  log(`building the Debian 13 rootfs with debootstrap into ${target} (once per machine)`);
  const result = await run(['debootstrap', '--variant=minbase', `--include=${ROOTFS_PACKAGES}`, 'trixie', building, debianMirror()], 30 * 60_000);
  if (result.code !== 0) {
    rmSync(building, { recursive: true, force: true });
    throw new Error(`debootstrap failed (${result.code}): ${result.stderr.slice(-2000)}${result.stdout.slice(-2000)}`);
  }
  renameSync(building, target);
  return target;
}

function unifiedCgroupRoot(): string {
  return existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified';
}

function removeCgroupTree(path: string): void {
  if (!existsSync(path)) return;
  for (const entry of readdirSync(path, { withFileTypes: true })) if (entry.isDirectory()) removeCgroupTree(join(path, entry.name));
  try {
    rmdirSync(path);
  } catch {
    // still busy: a process survived; the kill below will have been logged by the caller
  }
}

export class BootedContainer {
  private nspawn: ChildProcess | undefined;
  private leaderPid: number | undefined;
  private readonly dir: string;
  readonly root: string;
  private readonly cgroup: string;
  private mounted = false;
  private console = '';

  constructor(private readonly lowerdir: string, private readonly netnsName: string) {
    this.dir = mkdtempSync('/var/tmp/nfknock-container-');
    this.root = join(this.dir, 'root');
    this.cgroup = join(unifiedCgroupRoot(), `nfknock-test-${process.pid}-${this.dir.slice(-6)}`);
  }

  get consoleOutput(): string {
    return this.console;
  }

  async boot(): Promise<void> {
    for (const sub of ['upper', 'work', 'root']) mkdirSync(join(this.dir, sub));
    const mount = await run(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${this.lowerdir},upperdir=${this.dir}/upper,workdir=${this.dir}/work`, this.root]);
    if (mount.code !== 0) throw new Error(`overlay mount failed: ${mount.stderr}`);
    this.mounted = true;
    mkdirSync(this.cgroup);
    // The journal is what the tests read; keep it in memory and quick.
    writeFileSync(join(this.root, 'etc/hostname'), 'nfknock-test\n');
    const argv = [
      'systemd-nspawn', '--quiet', '--register=no', '--keep-unit', '--system-call-filter=bpf', '--console=read-only',
      // nspawn keeps CAP_NET_ADMIN only with a private network; this one is the lab's server namespace.
      '--capability=CAP_NET_ADMIN', `--network-namespace-path=/run/netns/${this.netnsName}`, '-D', this.root, '-b',
    ];
    const child = spawn('sh', ['-c', `echo $$ > ${this.cgroup}/cgroup.procs && exec "$@"`, 'sh', ...argv], {
      env: { ...process.env, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.nspawn = child;
    const append = (chunk: Buffer) => {
      this.console = (this.console + chunk.toString('utf8')).slice(-200_000);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    const pid = child.pid as number;
    this.leaderPid = await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`systemd-nspawn exited (${child.exitCode}):\n${this.console.slice(-3000)}`);
        const children = readdirSync(`/proc/${pid}/task`).flatMap((task) => readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
        const leader = Number(children[0]);
        return leader > 0 && readFileSync(`/proc/${leader}/comm`, 'utf8').trim() === 'systemd' ? leader : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, description: 'the container\'s systemd to start' },
    );
    // Until PID 1 has made its private socket, systemctl cannot connect: ask again.
    let last: RunResult | undefined;
    await waitFor(
      async () => {
        last = await this.exec(['systemctl', 'is-system-running', '--wait'], 120_000);
        return ['running', 'degraded'].includes(last.stdout.trim());
      },
      { timeoutMs: 120_000, intervalMs: 200, description: 'the container to boot' },
    ).catch((error: unknown) => {
      throw new Error(`the container did not boot: ${last?.stdout} ${last?.stderr}\n${this.console.slice(-3000)}`, { cause: error });
    });
  }

  /** Runs argv in the container's namespaces (as root). Never throws for a non-zero exit. */
  exec(argv: readonly string[], timeoutMs = 120_000, input?: string): Promise<RunResult> {
    if (this.leaderPid === undefined) throw new Error('the container is not booted');
    return run(['nsenter', '-t', String(this.leaderPid), '-a', ...argv], timeoutMs, input);
  }

  async execOk(argv: readonly string[], timeoutMs = 120_000): Promise<RunResult> {
    const result = await this.exec(argv, timeoutMs);
    if (result.code !== 0) throw new Error(`${argv.join(' ')} exited ${result.code}: ${result.stderr}${result.stdout}`);
    return result;
  }

  /** Writes a file inside the container (through its overlay). */
  writeFile(path: string, text: string, mode = 0o644): void {
    const target = join(this.root, path);
    mkdirSync(join(target, '..'), { recursive: true });
    writeFileSync(target, text, { mode });
  }

  readFile(path: string): string | undefined {
    const target = join(this.root, path);
    return existsSync(target) ? readFileSync(target, 'utf8') : undefined;
  }

  /** Powers the container off (SIGKILL after 20 s), unmounts and deletes everything it made. Idempotent. */
  async destroy(): Promise<void> {
    const child = this.nspawn;
    this.nspawn = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // SIGRTMIN+4 asks systemd for a clean poweroff, like `machinectl poweroff`.
      if (this.leaderPid !== undefined) await run(['kill', '-s', 'SIGRTMIN+4', String(this.leaderPid)]);
      const timer = setTimeout(() => {
        if (existsSync(join(this.cgroup, 'cgroup.kill'))) writeFileSync(join(this.cgroup, 'cgroup.kill'), '1');
        child.kill('SIGKILL');
      }, 20_000);
      await exited;
      clearTimeout(timer);
    }
    if (existsSync(join(this.cgroup, 'cgroup.kill'))) {
      try {
        writeFileSync(join(this.cgroup, 'cgroup.kill'), '1');
      } catch {
        // already empty
      }
    }
    await waitFor(() => !existsSync(join(this.cgroup, 'cgroup.procs')) || readFileSync(join(this.cgroup, 'cgroup.procs'), 'utf8').trim() === '', { timeoutMs: 5000 }).catch(() => undefined);
    removeCgroupTree(this.cgroup);
    if (this.mounted) {
      // nspawn's mount propagation may hold the overlay for a moment after it exits.
      await waitFor(async () => (await run(['umount', this.root])).code === 0 || (await run(['umount', '-l', this.root])).code === 0, { timeoutMs: 10_000 });
      this.mounted = false;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
