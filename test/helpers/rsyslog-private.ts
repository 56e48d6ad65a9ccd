/**
 * A private rsyslogd for e2e tests, sharing nothing with a host's rsyslog: its own config, pid file,
 * work directory and imuxsock socket (`logger --socket` targets it), no /dev/log. Stopped by stop(),
 * and by the lab's destroy() when it was spawned inside a lab namespace.
 *
 * Kernel input: imkmsg, not imklog. imklog reads /proc/kmsg, whose reads are destructive and shared
 * by every reader on the host, so two rsyslogd with imklog (a host's and ours, or two tests') each
 * get a random half of the kernel log. /dev/kmsg gives every open file its own position, so any
 * number of imkmsg readers coexist. Measured on 6.18 with rsyslog 8.2302: imkmsg re-reads the whole
 * ring buffer when it starts, and stamps each record `gettimeofday() - sysinfo().uptime + kmsg usec`
 * (whole-second uptime: up to 1 s of jitter; suspend time not counted by the kmsg clock).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { outputOf, stopProcessGroup, waitFor, type Lab } from './lab.js';
import { repoFile } from './repo-file.js';

export const DROP_IN_DEFAULT_FILE = '/var/log/nfknock/kernel.log';
export const DROP_IN_DEFAULT_PREFIX = 'portknock';

/** rules/rsyslog-nfknock.conf, found from the compiled test wherever the build directory is. */
export function dropInPath(): string {
  return repoFile(join('rules', 'rsyslog-nfknock.conf'));
}

/**
 * The drop-in's rules with the output file and the prefix swapped, as a user would edit them.
 * Throws if the drop-in no longer has exactly one of each, so the test cannot silently drift from it.
 */
export function adaptDropIn(text: string, options: { file: string; prefix: string }): string {
  const rules = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n');
  const count = (needle: string) => rules.split(needle).length - 1;
  if (count(`"${DROP_IN_DEFAULT_FILE}"`) !== 1) throw new Error(`the drop-in should name ${DROP_IN_DEFAULT_FILE} once`);
  if (count(`"${DROP_IN_DEFAULT_PREFIX}"`) !== 1) throw new Error(`the drop-in should test for "${DROP_IN_DEFAULT_PREFIX}" once`);
  return rules.replace(`"${DROP_IN_DEFAULT_FILE}"`, JSON.stringify(options.file)).replace(`"${DROP_IN_DEFAULT_PREFIX}"`, JSON.stringify(options.prefix));
}

export interface PrivateRsyslogOptions {
  dir: string;
  /** Config lines after the inputs (actions, rulesets). */
  rules: string;
  /** Load imkmsg (the kernel log). */
  kernelInput?: boolean;
  /** Also listen on UDP 127.0.0.1:514, where a sender may claim any facility. Use inside a lab namespace. */
  udp?: boolean;
  /** Run inside this lab's server namespace (killed by lab.destroy() too). */
  lab?: Lab;
}

export interface PrivateRsyslog {
  socket: string;
  pidFile: string;
  child: ChildProcess;
  /** SIGHUP: rsyslog closes its output files and reopens them on the next write (log rotation). */
  hangup(): void;
  stop(): Promise<void>;
  output(): string;
}

export async function startPrivateRsyslog(options: PrivateRsyslogOptions): Promise<PrivateRsyslog> {
  const { dir } = options;
  const workDir = join(dir, 'rsyslog-work');
  const socket = join(dir, 'rsyslog.sock');
  const pidFile = join(dir, 'rsyslogd.pid');
  const configFile = join(dir, 'rsyslog.conf');
  await mkdir(workDir, { recursive: true });
  await rm(socket, { force: true });
  const config = [
    `global(workDirectory=${JSON.stringify(workDir)})`,
    ...(options.kernelInput ? ['module(load="imkmsg")'] : []),
    'module(load="imuxsock" SysSock.Use="off")',
    `input(type="imuxsock" Socket=${JSON.stringify(socket)} CreatePath="on")`,
    ...(options.udp ? ['module(load="imudp")', 'input(type="imudp" address="127.0.0.1" port="514")'] : []),
    options.rules,
    '',
  ].join('\n');
  await writeFile(configFile, config);
  const argv = ['rsyslogd', '-n', '-f', configFile, '-i', pidFile];
  const child = options.lab ? options.lab.spawn('server', argv) : spawnRecorded(argv);
  const stop = async () => {
    await stopProcessGroup(child, 3000);
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`rsyslogd exited with ${child.exitCode}:\n${outputOf(child) || recorded.get(child) || ''}\n${config}`);
        return access(socket).then(
          () => true,
          () => false,
        );
      },
      { timeoutMs: 10_000, description: 'the private rsyslogd socket' },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    socket,
    pidFile,
    child,
    hangup: () => child.kill('SIGHUP'),
    stop,
    output: () => outputOf(child) || recorded.get(child) || '',
  };
}

const recorded = new WeakMap<ChildProcess, string>();

function spawnRecorded(argv: string[]): ChildProcess {
  const child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  recorded.set(child, '');
  const append = (chunk: Buffer) => recorded.set(child, ((recorded.get(child) ?? '') + chunk.toString()).slice(-65536));
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  child.on('error', () => {});
  return child;
}

/** Reads a file, '' while it does not exist. */
export async function readIfExists(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}
