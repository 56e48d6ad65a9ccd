/**
 * The `one-time` scaling scenario (issue 14): what using one line of a One_Time_Sequences file costs
 * as the file grows, through the daemon's own OneTimeFiles (trusted open, checks, one byte written,
 * fdatasync), and what using the whole file up costs.
 *
 * Two parts. On the temp directory's disk, a sample of uses (lines from the start and the end of the
 * file): bytes written per use, and the wall time of a use with its fdatasync. Bytes are counted as
 * handed to the file handles' write calls (write, writev, writeFile, appendFile, which every file
 * write of the daemon goes through), not from /proc/self/io: its write_bytes counts whole page-cache
 * folios (2 MiB on recent kernels for one byte) and its wchar counts libuv's eventfd wake-ups. In /dev/shm
 * (tmpfs: fdatasync costs nothing there, so the module's own work is what is measured), the whole file
 * used up line by line in file order, as the sequence book hands the lines out.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OneTimeFiles } from '../../src/state/one-time-file.js';
import type { Door } from '../../src/core/types.js';
import type { OneTimeLine } from '../../src/matcher/sequences.js';
import type { ScalingResult } from './scaling.js';
import { oneTimeText } from './scaling-configs.js';

const DISK_SAMPLE = 400;

let bytesWritten = 0;

/** Counts what every FileHandle of this process writes from now on (the bench's own process only). */
async function countFileWrites(dir: string): Promise<void> {
  const probe = await open(join(dir, 'probe'), 'w');
  const handles = Object.getPrototypeOf(probe) as Record<string, (this: FileHandle, ...args: unknown[]) => Promise<unknown>>;
  await probe.close();
  for (const name of ['write', 'writev']) {
    const original = handles[name]!;
    handles[name] = async function (this: FileHandle, ...args: unknown[]) {
      const result = (await original.apply(this, args)) as { bytesWritten: number };
      bytesWritten += result.bytesWritten;
      return result;
    };
  }
  for (const name of ['writeFile', 'appendFile']) {
    const original = handles[name]!;
    handles[name] = async function (this: FileHandle, data: unknown, ...rest: unknown[]) {
      bytesWritten += typeof data === 'string' ? Buffer.byteLength(data) : (data as Uint8Array).byteLength;
      return original.call(this, data, ...rest);
    };
  }
}

function cpuMicros(): number {
  const used = process.cpuUsage();
  return used.user + used.system;
}

async function withFile<T>(parent: string, size: number, use: (files: OneTimeFiles, door: Door, lines: OneTimeLine[], readUs: number) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(parent, 'nfknock-scaling-'));
  try {
    const path = join(dir, 'one-time');
    writeFileSync(path, oneTimeText(size), { mode: 0o600 });
    const door = { name: 'once', steps: [], oneTimeFile: path } as unknown as Door;
    const files = new OneTimeFiles();
    const cpu = cpuMicros();
    const lines = await files.read(door);
    const readUs = cpuMicros() - cpu;
    if (lines.length !== size) throw new Error(`expected ${size} unused lines, read ${lines.length}`);
    return await use(files, door, lines, readUs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Uses on disk: the first and the last lines of the file, each written through and fdatasync()ed. */
function onDisk(size: number) {
  return withFile(tmpdir(), size, async (files, door, lines) => {
    const half = Math.min(size, DISK_SAMPLE) >> 1;
    const sample = [...lines.slice(0, half), ...lines.slice(size - half)];
    const bytes = bytesWritten;
    const cpu = cpuMicros();
    const wall = performance.now();
    for (const line of sample) await files.markUsed(door, line);
    return {
      bytesWrittenPerUse: Math.round(((bytesWritten - bytes) / sample.length) * 100) / 100,
      diskWallMsPerUse: Math.round(((performance.now() - wall) / sample.length) * 100) / 100,
      diskCpuUsPerUse: Math.round((cpuMicros() - cpu) / sample.length),
    };
  });
}

/** The whole file used up in file order; the first and the last tenth timed apart, so that a cost growing with the lines used shows. */
function usedUp(size: number) {
  return withFile(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), size, async (files, door, lines, readUs) => {
    const tenth = Math.max(1, Math.floor(size / 10));
    const wall = performance.now();
    const cpu = cpuMicros();
    let firstTenth = 0;
    let lastTenthFrom = 0;
    for (let i = 0; i < size; i++) {
      if (i === tenth) firstTenth = cpuMicros() - cpu;
      if (i === size - tenth) lastTenthFrom = cpuMicros();
      await files.markUsed(door, lines[i]!);
    }
    const end = cpuMicros();
    const useUpWallS = (performance.now() - wall) / 1000;
    if ((await new OneTimeFiles().read(door)).length !== 0) throw new Error('the file was not used up');
    return {
      usPerUse: Math.round((end - cpu) / size),
      firstTenthUsPerUse: Math.round(firstTenth / tenth),
      lastTenthUsPerUse: Math.round((end - lastTenthFrom) / tenth),
      useUpCpuS: Math.round((end - cpu) / 1e4) / 100,
      useUpWallS: Math.round(useUpWallS * 100) / 100,
      readCpuMs: Math.round(readUs / 1000),
    };
  });
}

export async function oneTimeScenario(size: number): Promise<ScalingResult> {
  const probeDir = mkdtempSync(join(tmpdir(), 'nfknock-scaling-'));
  await countFileWrites(probeDir).finally(() => rmSync(probeDir, { recursive: true, force: true }));
  const disk = await onDisk(size);
  const { usPerUse, ...useUp } = await usedUp(size);
  return { scenario: 'one-time', size, value: usPerUse, unit: 'CPU µs per use (file used up, in tmpfs)', extra: { ...disk, ...useUp } };
}
