/**
 * A two-namespace network lab (server <-veth-> client) shared by the e2e tests and `npm run demo`;
 * with `internal: true` a third namespace sits behind the server, which then routes as a gateway
 * (client 10.201.x.2 -> gateway 10.201.x.1 | 10.202.x.1 -> internal 10.202.x.2).
 * Everything it creates lives inside namespaces it made itself, so no host firewall or interface is
 * touched; everything it starts is killed and every namespace deleted on destroy(), on process exit
 * and on SIGINT/SIGTERM/SIGHUP, so a failing test or a Ctrl-C leaves nothing behind.
 */
import { spawn as spawnChild, execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes, NfknockError } from '../../src/core/errors.js';
import { isRoot, requireTools } from './tools.js';

export type LabFamily = 4 | 6;
export type LabSide = 'server' | 'client' | 'internal';
export type ProbeResult = 'open' | 'filtered' | 'closed';

export interface ExecResult {
  /** Exit status; 128 + signal number when the command was killed (e.g. by the timeout). */
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Written to the command's stdin, which is then closed. */
  input?: string;
  /** Kill the command's whole process group after this long; default 30 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LabSpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Default: stdin ignored, stdout/stderr piped and recorded (see outputOf) so the pipe never fills. */
  stdio?: SpawnOptions['stdio'];
}

export interface TcpService {
  port: number;
  family: LabFamily;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Named in the timeout error: "timed out after 5000 ms waiting for <description>". */
  description?: string;
}

export interface LabOptions {
  /** Namespace name prefix (default "nfk"); names are `<prefix>-<slot>-<random>-srv|cli`. */
  name?: string;
  /** Give both ends ULA addresses (default true). */
  ipv6?: boolean;
  /** A third namespace on its own subnet behind the server, which forwards between the two. */
  internal?: boolean;
}

export interface Lab {
  readonly serverNamespace: string;
  readonly clientNamespace: string;
  /** The veth end inside each namespace (the same names in every lab: they live in different namespaces). */
  readonly serverInterface: string;
  readonly clientInterface: string;
  /** 1..250, unique among live labs on this host; the x in 10.201.x.0/24 and fd00:201:x::/64. */
  readonly slot: number;
  serverAddress(family: LabFamily): string;
  clientAddress(family: LabFamily): string;
  /** With `internal`: the namespace behind the gateway, its address, and the gateway's address facing it. */
  readonly internalNamespace: string | undefined;
  internalAddress(family: LabFamily): string;
  gatewayInternalAddress(family: LabFamily): string;
  namespaceOf(side: LabSide): string;
  /** Runs argv inside a namespace; never throws for a non-zero exit, see `code`. */
  exec(side: LabSide, argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Like exec but throws NFK_COMMAND_FAILED (with stderr) on a non-zero exit. */
  execOk(side: LabSide, argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** A long-running process in its own process group, killed (whole group) by destroy(). */
  spawn(side: LabSide, argv: readonly string[], options?: LabSpawnOptions): ChildProcess;
  /** iptables-restore (4) or ip6tables-restore (6) in the server namespace. */
  loadIptables(text: string, family: LabFamily): Promise<void>;
  /** `iptables -S` / `ip6tables -S` of the server namespace. */
  iptablesRules(family: LabFamily): Promise<string>;
  /** `nft -f -` in the server namespace. */
  loadNft(text: string): Promise<void>;
  /** A TCP server (in the server namespace unless `side` says) that answers "hello"; resolves once it listens. */
  startTcpService(port: number, family: LabFamily, side?: LabSide): Promise<TcpService>;
  /** Connects from the client namespace (to the server unless `to` says): connected = open, timeout = filtered (DROP), refused = closed. */
  probeTcp(port: number, family: LabFamily, timeoutMs?: number, to?: string): Promise<ProbeResult>;
  /** Kills every spawned process group and every process left in the namespaces, deletes them all. Idempotent. */
  destroy(): Promise<void>;
}

const serverInterface = 'veth-srv';
const clientInterface = 'veth-cli';
const gatewayInternalInterface = 'veth-gwi';
const internalInterface = 'veth-int';
const stateDirectory = '/run/nfknock-lab';
const slotCount = 250;
const outputLimit = 1024 * 1024;
const labPath = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':');

interface SlotRecord {
  pid: number;
  namespaces: string[];
}

const liveLabs = new Set<LabImpl>();
const outputs = new WeakMap<ChildProcess, { text: string }>();

export async function createLab(options: LabOptions = {}): Promise<Lab> {
  if (!isRoot()) {
    throw new NfknockError(ErrorCodes.PERMISSION, 'network namespaces need root: run as root (e.g. with sudo)');
  }
  requireTools(['ip']);
  const prefix = options.name ?? 'nfk';
  if (!/^[a-z][a-z0-9-]{0,15}$/.test(prefix)) {
    throw new NfknockError(ErrorCodes.USAGE, `lab name must be 1-16 lower-case letters, digits or '-': ${JSON.stringify(prefix)}`);
  }
  sweepStaleLabs();
  const suffix = randomBytes(2).toString('hex');
  const names = (x: number) => [`${prefix}-${x}-${suffix}-srv`, `${prefix}-${x}-${suffix}-cli`, ...(options.internal ? [`${prefix}-${x}-${suffix}-int`] : [])];
  const slot = acquireSlot(names);
  const [server, client, internal] = names(slot) as [string, string, string | undefined];
  const lab = new LabImpl(slot, server, client, internal);
  liveLabs.add(lab);
  installExitHandlers();
  try {
    await lab.build(options.ipv6 ?? true);
    await lab.buildInternal(options.ipv6 ?? true);
  } catch (error) {
    await lab.destroy();
    throw error;
  }
  return lab;
}

class LabImpl implements Lab {
  readonly serverInterface = serverInterface;
  readonly clientInterface = clientInterface;
  private readonly children = new Set<ChildProcess>();
  private destroying: Promise<void> | undefined;

  constructor(
    readonly slot: number,
    readonly serverNamespace: string,
    readonly clientNamespace: string,
    readonly internalNamespace: string | undefined,
  ) {}

  private get namespaces(): string[] {
    return [this.serverNamespace, this.clientNamespace, ...(this.internalNamespace ? [this.internalNamespace] : [])];
  }

  /** The internal subnet, routes both ways through the server, and forwarding on in the server namespace. */
  async buildInternal(ipv6: boolean): Promise<void> {
    const i = this.internalNamespace;
    if (i === undefined) return;
    const s = this.serverNamespace;
    const c = this.clientNamespace;
    const steps: string[][] = [
      ['netns', 'add', i],
      ['-n', i, 'link', 'set', 'lo', 'up'],
      ['-n', s, 'link', 'add', gatewayInternalInterface, 'type', 'veth', 'peer', 'name', internalInterface, 'netns', i],
      ['-n', s, 'addr', 'add', `${this.gatewayInternalAddress(4)}/24`, 'dev', gatewayInternalInterface],
      ['-n', i, 'addr', 'add', `${this.internalAddress(4)}/24`, 'dev', internalInterface],
      ['-n', s, 'link', 'set', gatewayInternalInterface, 'up'],
      ['-n', i, 'link', 'set', internalInterface, 'up'],
      ['-n', i, 'route', 'add', 'default', 'via', this.gatewayInternalAddress(4)],
      ['-n', c, 'route', 'add', `10.202.${this.slot}.0/24`, 'via', this.serverAddress(4)],
    ];
    if (ipv6) {
      steps.push(
        ['-n', s, 'addr', 'add', `${this.gatewayInternalAddress(6)}/64`, 'dev', gatewayInternalInterface, 'nodad'],
        ['-n', i, 'addr', 'add', `${this.internalAddress(6)}/64`, 'dev', internalInterface, 'nodad'],
        ['-n', i, '-6', 'route', 'add', 'default', 'via', this.gatewayInternalAddress(6)],
        ['-n', c, '-6', 'route', 'add', `fd00:202:${this.slot}::/64`, 'via', this.serverAddress(6)],
      );
    }
    for (const argv of steps) {
      const result = await run('ip', argv, {});
      if (result.code !== 0) throw commandFailed(['ip', ...argv], result);
    }
    // Per-namespace sysctls: only the lab's server namespace forwards.
    await this.execOk('server', ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    if (ipv6) await this.execOk('server', ['sysctl', '-q', '-w', 'net.ipv6.conf.all.forwarding=1']);
  }

  internalAddress(family: LabFamily): string {
    return family === 4 ? `10.202.${this.slot}.2` : `fd00:202:${this.slot}::2`;
  }

  gatewayInternalAddress(family: LabFamily): string {
    return family === 4 ? `10.202.${this.slot}.1` : `fd00:202:${this.slot}::1`;
  }

  async build(ipv6: boolean): Promise<void> {
    const s = this.serverNamespace;
    const c = this.clientNamespace;
    const steps: string[][] = [
      ['netns', 'add', s],
      ['netns', 'add', c],
      ['-n', s, 'link', 'set', 'lo', 'up'],
      ['-n', c, 'link', 'set', 'lo', 'up'],
      // Created inside the namespaces so that no interface ever appears in the host namespace.
      ['-n', s, 'link', 'add', serverInterface, 'type', 'veth', 'peer', 'name', clientInterface, 'netns', c],
      ['-n', s, 'addr', 'add', `${this.serverAddress(4)}/24`, 'dev', serverInterface],
      ['-n', c, 'addr', 'add', `${this.clientAddress(4)}/24`, 'dev', clientInterface],
    ];
    if (ipv6) {
      // nodad: the address is usable at once instead of after duplicate address detection (~1-2 s).
      steps.push(['-n', s, 'addr', 'add', `${this.serverAddress(6)}/64`, 'dev', serverInterface, 'nodad']);
      steps.push(['-n', c, 'addr', 'add', `${this.clientAddress(6)}/64`, 'dev', clientInterface, 'nodad']);
    }
    steps.push(['-n', s, 'link', 'set', serverInterface, 'up'], ['-n', c, 'link', 'set', clientInterface, 'up']);
    for (const argv of steps) {
      const result = await run('ip', argv, {});
      if (result.code !== 0) throw commandFailed(['ip', ...argv], result);
    }
  }

  serverAddress(family: LabFamily): string {
    return family === 4 ? `10.201.${this.slot}.1` : `fd00:201:${this.slot}::1`;
  }

  clientAddress(family: LabFamily): string {
    return family === 4 ? `10.201.${this.slot}.2` : `fd00:201:${this.slot}::2`;
  }

  namespaceOf(side: LabSide): string {
    if (side === 'internal') {
      if (this.internalNamespace === undefined) throw new NfknockError(ErrorCodes.USAGE, 'this lab has no internal namespace: createLab({ internal: true })');
      return this.internalNamespace;
    }
    return side === 'server' ? this.serverNamespace : this.clientNamespace;
  }

  exec(side: LabSide, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.namespaceOf(side), ...argv], options);
  }

  async execOk(side: LabSide, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const result = await this.exec(side, argv, options);
    if (result.code !== 0) throw commandFailed([`(${side} namespace)`, ...argv], result);
    return result;
  }

  spawn(side: LabSide, argv: readonly string[], options: LabSpawnOptions = {}): ChildProcess {
    if (this.destroying) throw new NfknockError(ErrorCodes.INTERNAL, 'lab already destroyed');
    const child = spawnChild('ip', ['netns', 'exec', this.namespaceOf(side), ...argv], {
      detached: true,
      env: labEnv(options.env),
      stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    // A spawn failure (ENOENT) arrives as an 'error' event; without a listener it would crash the test.
    child.on('error', () => this.children.delete(child));
    record(child);
    return child;
  }

  async loadIptables(text: string, family: LabFamily): Promise<void> {
    await this.execOk('server', [family === 4 ? 'iptables-restore' : 'ip6tables-restore'], { input: text });
  }

  async iptablesRules(family: LabFamily): Promise<string> {
    return (await this.execOk('server', [family === 4 ? 'iptables' : 'ip6tables', '-S'])).stdout;
  }

  async loadNft(text: string): Promise<void> {
    await this.execOk('server', ['nft', '-f', '-'], { input: text });
  }

  async startTcpService(port: number, family: LabFamily, side: LabSide = 'server'): Promise<TcpService> {
    const script = [
      "const net = require('node:net');",
      "const [port, host] = process.argv.slice(1);",
      "const server = net.createServer((socket) => { socket.on('error', () => {}); socket.end('hello\\n'); });",
      "server.on('error', (error) => { console.error(error.message); process.exit(1); });",
      "server.listen({ port: Number(port), host, ipv6Only: host === '::' }, () => console.log('listening'));",
    ].join('\n');
    const child = this.spawn(side, [process.execPath, '-e', script, String(port), family === 4 ? '0.0.0.0' : '::']);
    await waitForOutput(child, /listening/, 10_000);
    return { port, family, process: child, stop: () => stopProcessGroup(child, 2000) };
  }

  async probeTcp(port: number, family: LabFamily, timeoutMs = 1000, to?: string): Promise<ProbeResult> {
    const script = [
      "const net = require('node:net');",
      "const [host, port, timeout] = process.argv.slice(1);",
      "const say = (word) => { process.stdout.write(word); process.exit(0); };",
      "const socket = net.connect({ host, port: Number(port) });",
      "setTimeout(() => say('filtered'), Number(timeout));",
      "socket.on('connect', () => say('open'));",
      // EHOSTUNREACH and friends come from REJECT rules with icmp-*-unreachable: still not a service.
      "socket.on('error', (error) => say(error.code === 'ECONNREFUSED' ? 'closed' : 'filtered'));",
    ].join('\n');
    const argv = [process.execPath, '-e', script, to ?? this.serverAddress(family), String(port), String(timeoutMs)];
    const result = await this.execOk('client', argv, { timeoutMs: timeoutMs + 10_000 });
    const answer = result.stdout.trim();
    if (answer === 'open' || answer === 'filtered' || answer === 'closed') return answer;
    throw new NfknockError(ErrorCodes.INTERNAL, `TCP probe printed ${JSON.stringify(answer)}; stderr: ${result.stderr.trim()}`);
  }

  destroy(): Promise<void> {
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  private async teardown(): Promise<void> {
    await Promise.all([...this.children].map((child) => stopProcessGroup(child, 1500)));
    for (const namespace of this.namespaces) {
      // Processes we did not spawn (a daemon's commands, a forked knockd) keep a namespace alive after
      // `ip netns del`; kill them so the namespace and its firewall really disappear.
      const pids = await run('ip', ['netns', 'pids', namespace], {});
      for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) killQuietly(Number(pid), 'SIGKILL');
      await run('ip', ['netns', 'del', namespace], {});
    }
    releaseSlot(this.slot);
    liveLabs.delete(this);
  }

  /** For exit and signal handlers, where nothing asynchronous will run any more. */
  destroySync(): void {
    this.destroying ??= Promise.resolve();
    for (const child of this.children) killGroup(child, 'SIGKILL');
    for (const namespace of this.namespaces) {
      try {
        const pids = execFileSync('ip', ['netns', 'pids', namespace], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
        for (const pid of pids.split(/\s+/).filter(Boolean)) killQuietly(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
      try {
        execFileSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    releaseSlot(this.slot);
    liveLabs.delete(this);
  }
}

/** Everything a spawned process has written to stdout and stderr so far (last 1 MiB). */
export function outputOf(child: ChildProcess): string {
  return outputs.get(child)?.text ?? '';
}

/** Resolves with the match once the process's output matches; rejects on timeout or early exit. */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const match = outputOf(child).match(pattern);
      if (match) finish(() => resolve(match));
      return match !== null;
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      // Output that arrived with the exit still counts.
      setImmediate(() => {
        if (!check()) {
          finish(() => reject(new NfknockError(ErrorCodes.INTERNAL, `process exited (${signal ?? code}) before printing ${pattern}; output:\n${outputOf(child)}`)));
        }
      });
    };
    const timer = setTimeout(() => {
      finish(() => reject(new NfknockError(ErrorCodes.INTERNAL, `timed out after ${timeoutMs} ms waiting for ${pattern}; output:\n${outputOf(child)}`)));
    }, timeoutMs);
    const finish = (settle: () => void): void => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      child.off('exit', onExit);
      settle();
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.on('exit', onExit);
    if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode, child.signalCode);
    else check();
  });
}

type Falsy = undefined | null | false | 0 | '';

/** Polls until the predicate returns a truthy value and resolves with it; rejects on timeout. */
export async function waitFor<T>(predicate: () => T | Falsy | Promise<T | Falsy>, options: WaitForOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let last: T | Falsy;
  for (;;) {
    last = await predicate();
    if (last) return last;
    if (Date.now() >= deadline) break;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
  throw new NfknockError(
    ErrorCodes.INTERNAL,
    `timed out after ${timeoutMs} ms waiting for ${options.description ?? 'a condition'} (last value: ${String(last)})`,
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Kills the process group (SIGTERM, then SIGKILL after graceMs) and waits for the leader to exit. */
export async function stopProcessGroup(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  // Children that ignored SIGTERM may outlive the leader.
  killGroup(child, 'SIGKILL');
}

/**
 * Sets the host-global /proc/sys/net/netfilter/nf_log_all_netns to 1 so the LOG target in the labs'
 * namespaces reaches the kernel log, and returns the function that puts the old value back. It only
 * affects kernel log output, no firewall. Holders are counted across processes (test files run in
 * parallel), so the old value comes back when the last holder restores or dies.
 */
export function withNfLogAllNetns(): () => void {
  const sysctl = '/proc/sys/net/netfilter/nf_log_all_netns';
  const holders = join(stateDirectory, 'nflog-holders');
  const original = join(stateDirectory, 'nflog-original');
  const holder = join(holders, `${process.pid}-${randomBytes(3).toString('hex')}`);
  let current: string;
  try {
    current = readFileSync(sysctl, 'utf8').trim();
  } catch (error) {
    throw new NfknockError(ErrorCodes.SOURCE_UNAVAILABLE, `cannot read ${sysctl}: the kernel lacks netfilter logging`, { cause: error });
  }
  withLock(() => {
    mkdirSync(holders, { recursive: true });
    writeFileSync(holder, String(process.pid));
    try {
      // A file left by a crashed run already holds the true original value: keep it.
      writeFileSync(original, current, { flag: 'wx' });
    } catch {
      // kept
    }
    writeFileSync(sysctl, '1');
  });
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    withLock(() => {
      unlinkQuietly(holder);
      const alive = readdirSync(holders).filter((name) => {
        if (isAlive(Number(name.split('-')[0]))) return true;
        unlinkQuietly(join(holders, name));
        return false;
      });
      if (alive.length > 0) return;
      try {
        writeFileSync(sysctl, readFileSync(original, 'utf8').trim());
        unlinkSync(original);
      } catch {
        // no saved value: someone else restored it already
      }
    });
  };
}

/** Deletes namespaces of labs whose process died without cleaning up (SIGKILL, power loss of a VM). */
export function sweepStaleLabs(): void {
  let names: string[];
  try {
    names = readdirSync(stateDirectory).filter((name) => /^slot-\d+\.json$/.test(name));
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(stateDirectory, name);
    const record = readSlot(path);
    if (record && isAlive(record.pid)) continue;
    for (const namespace of record?.namespaces ?? []) {
      try {
        const pids = execFileSync('ip', ['netns', 'pids', namespace], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
        for (const pid of pids.split(/\s+/).filter(Boolean)) killQuietly(Number(pid), 'SIGKILL');
        execFileSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    unlinkQuietly(path);
  }
}

function acquireSlot(namespacesFor: (slot: number) => string[]): number {
  mkdirSync(stateDirectory, { recursive: true, mode: 0o700 });
  // Start at a pid-derived slot so parallel test files rarely even contend.
  const start = process.pid % slotCount;
  for (let i = 0; i < slotCount; i++) {
    const slot = ((start + i) % slotCount) + 1;
    const record: SlotRecord = { pid: process.pid, namespaces: namespacesFor(slot) };
    try {
      writeFileSync(join(stateDirectory, `slot-${slot}.json`), JSON.stringify(record), { flag: 'wx' });
      return slot;
    } catch {
      // taken by a live lab (dead ones were swept)
    }
  }
  throw new NfknockError(ErrorCodes.INTERNAL, `all ${slotCount} lab slots in ${stateDirectory} are taken`);
}

function releaseSlot(slot: number): void {
  const path = join(stateDirectory, `slot-${slot}.json`);
  if (readSlot(path)?.pid === process.pid) unlinkQuietly(path);
}

function readSlot(path: string): SlotRecord | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<SlotRecord>;
    if (typeof parsed.pid !== 'number' || !Array.isArray(parsed.namespaces)) return undefined;
    return { pid: parsed.pid, namespaces: parsed.namespaces.filter((n): n is string => typeof n === 'string') };
  } catch {
    return undefined;
  }
}

function withLock(body: () => void): void {
  const lock = join(stateDirectory, 'nflog.lock');
  mkdirSync(stateDirectory, { recursive: true, mode: 0o700 });
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) {
        // A holder killed inside this tiny critical section: break the lock rather than hang.
        try {
          rmdirSync(lock);
        } catch {
          // someone else broke it
        }
        continue;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
  try {
    body();
  } finally {
    rmdirSync(lock);
  }
}

let handlersInstalled = false;
const exitSignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function destroyAllSync(): void {
  for (const lab of [...liveLabs]) lab.destroySync();
}

function onSignal(signal: NodeJS.Signals): void {
  destroyAllSync();
  for (const name of exitSignals) process.off(name, onSignal);
  // If nobody else (the demo) handles the signal, die of it as we would have without this handler.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', destroyAllSync);
  for (const signal of exitSignals) process.on(signal, onSignal);
}

function labEnv(extra: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  env['PATH'] = env['PATH'] ? `${env['PATH']}:${labPath}` : labPath;
  return env;
}

function run(command: string, argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawnChild(command, argv, {
      detached: true,
      env: labEnv(options.env),
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: `${stderr}${error.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128 + (signal ? osConstants.signals[signal] : 0), stdout, stderr });
    });
    if (options.input !== undefined) {
      child.stdin?.on('error', () => {}); // the command may exit without reading
      child.stdin?.end(options.input);
    }
  });
}

function commandFailed(argv: readonly string[], result: ExecResult): NfknockError {
  return new NfknockError(
    ErrorCodes.COMMAND_FAILED,
    `${argv.join(' ')} exited with status ${result.code}: ${(result.stderr || result.stdout).trim()}`,
  );
}

function record(child: ChildProcess): void {
  const sink = { text: '' };
  outputs.set(child, sink);
  const append = (chunk: string): void => {
    sink.text = (sink.text + chunk).slice(-outputLimit);
  };
  child.stdout?.setEncoding('utf8').on('data', append);
  child.stderr?.setEncoding('utf8').on('data', append);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid !== undefined) killQuietly(-child.pid, signal);
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  if (!Number.isInteger(pid) || pid === 0) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
