/**
 * nfknockd run on this host without a lab: reading knocks from a KernelLog file the test writes
 * (rsyslog's RFC 3339 lines), so reloads and file trust can be tested without the network.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rfc3339Line } from '../fixtures/simulate/lines.js';
import { nfknockdPath } from './daemon-lab.js';
import { stopProcessGroup, waitFor } from './lab.js';

export interface LocalDaemon {
  child: ChildProcess;
  configPath: string;
  kernelLog: string;
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Appends the kernel's lines for a knock sequence from `source`. */
  knock(source: string, ports: number[]): Promise<void>;
  stop(): Promise<void>;
}

let packet = 1;

export async function startLocalDaemon(dir: string, confText: string, args: string[] = [], ready = /starting up/): Promise<LocalDaemon> {
  const configPath = join(dir, 'knockd.conf');
  const kernelLog = join(dir, 'kernel.log');
  await writeFile(configPath, confText, { mode: 0o600 });
  await writeFile(kernelLog, '', { mode: 0o600, flag: 'a' });
  const child = spawn(process.execPath, [nfknockdPath, '-c', configPath, '--state-dir', join(dir, 'state'), '-D', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let text = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  const daemon: LocalDaemon = {
    child,
    configPath,
    kernelLog,
    output: () => text,
    waitForOutput: async (pattern, timeoutMs = 8000) => {
      try {
        await waitFor(() => {
          if (pattern.test(text)) return true;
          if (child.exitCode !== null) throw new Error(`nfknockd exited with ${child.exitCode}`);
          return false;
        }, { timeoutMs });
      } catch (error) {
        throw new Error(`${(error as Error).message}: nfknockd output never matched ${pattern}:\n${text}`);
      }
    },
    knock: async (source, ports) => {
      const now = Date.now();
      const lines = ports.map((port, i) => rfc3339Line({ source, port, at: now + i + (packet++ % 1000) / 1000 }));
      await appendFile(kernelLog, `${lines.join('\n')}\n`);
    },
    stop: () => stopProcessGroup(child, 2000),
  };
  await daemon.waitForOutput(ready, 10_000);
  return daemon;
}

export async function readIfAny(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}
