/** What /proc says about a process: CPU time and peak resident memory. */
import { readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux architecture nfknock runs on

export interface ProcSample {
  cpuSeconds: number;
  /** The stime part of cpuSeconds: syscalls, and softirq work the kernel charged to the process. */
  systemSeconds: number;
  peakRssMB: number;
  rssMB: number;
}

/** utime + stime (fields 14 and 15 of /proc/PID/stat) and VmHWM / VmRSS; undefined once it exited. */
export function sampleProcess(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const systemTicks = Number(fields[12]);
    const ticks = Number(fields[11]) + systemTicks;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND, systemSeconds: systemTicks / CLOCK_TICKS_PER_SECOND, peakRssMB: kb('VmHWM') / 1024, rssMB: kb('VmRSS') / 1024 };
  } catch {
    return undefined;
  }
}

export function commandName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * The process that really runs `name` under `ip netns exec PID ...`: iproute2 execs the command in
 * place, so it is usually PID itself; older versions fork, so its children are searched too.
 */
export function findProcess(pid: number, name: string): number | undefined {
  const queue = [pid];
  while (queue.length > 0) {
    const current = queue.shift() as number;
    if (commandName(current) === name) return current;
    try {
      const children = readFileSync(`/proc/${current}/task/${current}/children`, 'utf8').trim();
      for (const child of children.split(/\s+/).filter(Boolean)) queue.push(Number(child));
    } catch {
      // gone, or no children file
    }
  }
  return undefined;
}
