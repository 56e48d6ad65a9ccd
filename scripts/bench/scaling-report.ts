/**
 * Runs the scaling benches (scaling.ts, one process per run, three runs each, median taken) and the
 * footprint measurements, and writes them as BENCHMARKS.md's scaling section with the issue-14 goals.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScalingResult } from './scaling.js';
import { benchConfText } from './workload.js';

export interface ScalingPlan {
  scenario: string;
  sizes: number[];
  what: string;
}

export const SCALING_PLANS: ScalingPlan[] = [
  { scenario: 'doors', sizes: [2, 100, 1000, 10000], what: 'doors with their own first knocks: NFLOG decode + match of the flood mix, events per CPU-second' },
  { scenario: 'shared', sizes: [100, 1000, 10000], what: 'doors sharing the flood\'s first knock (every scanner packet starts one attempt shared by all of them): events per CPU-second' },
  { scenario: 'time', sizes: [10, 100, 1000], what: 'time-based doors vs as many fixed doors, matcher only, each packet at a door\'s current first knock: CPU ratio per packet' },
  { scenario: 'reload', sizes: [1000, 10000, 65536], what: 'reload with attempts in progress: CPU ms, same doors re-read (reordered doors in the extra column)' },
  { scenario: 'check', sizes: [200, 2000, 20000], what: '`nfknock check` work in process (load, check, format): CPU ms' },
  { scenario: 'check-pairs', sizes: [200, 2000, 20000], what: '`nfknock check` of knockd-style open/close door pairs: CPU ms' },
  { scenario: 'rules', sizes: [200, 2000, 20000], what: '`nfknock rules` work in process (load, generate): CPU ms' },
  { scenario: 'rules-onetime', sizes: [1000, 10000, 100000], what: '`nfknock rules` for one door with a one-time file of this many lines: CPU ms' },
  { scenario: 'open-doors', sizes: [10, 100, 1000, 10000], what: 'one more door opened with this many open, through DoorService and the StateStore journal on tmpfs: CPU µs per open (compaction share included), bytes written per open; the whole-file save of earlier versions in the extra columns' },
  { scenario: 'one-time', sizes: [1000, 10000, 100000], what: 'a one-time file of this many lines used through the daemon\'s OneTimeFiles (trusted open, checks, one byte, fdatasync). On disk, 400 uses (first and last lines): bytes written (handed to write calls), wall ms and CPU µs per use. In tmpfs, the file used up in order: CPU µs per use (the figure), over the first and the last tenth, CPU and wall s for all' },
];

function runScaling(script: string, scenario: string, size: number): Promise<ScalingResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', script, scenario, String(size)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`scaling ${scenario} ${size} exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as ScalingResult);
    });
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export interface ScalingRow {
  plan: ScalingPlan;
  size: number;
  /** The run whose value is the median of three. */
  result: ScalingResult;
  values: number[];
}

export async function runScalingPlans(script: string, say: (line: string) => void, runs = 3): Promise<ScalingRow[]> {
  const rows: ScalingRow[] = [];
  for (const plan of SCALING_PLANS) {
    for (const size of plan.sizes) {
      const results: ScalingResult[] = [];
      for (let i = 0; i < runs; i++) results.push(await runScaling(script, plan.scenario, size));
      const middle = median(results.map((r) => r.value));
      const result = results.find((r) => r.value === middle)!;
      say(`  ${plan.scenario} ${size}: ${result.value} ${result.unit} (runs: ${results.map((r) => r.value).join(', ')})`);
      rows.push({ plan, size, result, values: results.map((r) => r.value) });
    }
  }
  return rows;
}

/**
 * CPU milliseconds (user + system) of a command, from bash's `times` (getrusage of the children, to the
 * millisecond; GNU time rounds to 10 ms, a sixth of bare node's start-up); undefined without bash.
 */
function commandCpuMs(argv: string[], env: NodeJS.ProcessEnv): number | undefined {
  const run = spawnSync('bash', ['-c', '"$@" >/dev/null 2>&1; times', 'bash', ...argv], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'ignore'] });
  // `times` prints the shell's own user/system line, then its children's: "0m0.031s 0m0.008s".
  const children = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s\s*$/.exec(run.stdout?.trim() ?? '');
  if (!children) return undefined;
  const [, um, us, sm, ss] = children.map(Number) as [number, number, number, number, number];
  return Math.round((um * 60 + us + sm * 60 + ss) * 1000);
}

/**
 * Start-up is measured without NODE_OPTIONS and NODE_EXTRA_CA_CERTS: the latter makes node read a CA
 * bundle at every start (~50 ms CPU here, more than bare node's whole start), which would hide what
 * nfknock itself costs and is not set where nfknock runs (systemd, a shell).
 */
function startupEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  delete env['NODE_EXTRA_CA_CERTS'];
  return env;
}

const STARTUP_RUNS = 9;

export interface Footprint {
  startup: { name: string; cpuMs: number; runs: number[] }[];
  idleRssMB?: number;
  /** VmRSS 15 s after the start record, once V8's memory reducer has run. */
  settledRssMB?: number;
  idleNote: string;
}

/**
 * Start-up CPU (medians of 9, the commands interleaved) of bare node, `nfknockd --help` and a loopback
 * `nfknock knock`, and the idle RSS of nfknockd run with `nodeOptions` (the unit's NODE_OPTIONS).
 */
export async function measureFootprint(repoRoot: string, nodeOptions: string): Promise<Footprint> {
  const cli = (name: string) => join(repoRoot, 'dist', 'src', 'cli', name);
  const commands: [string, string[]][] = [
    ['bare node (node -e 0)', [process.execPath, '-e', '0']],
    ['nfknockd --help', [process.execPath, cli('nfknockd.js'), '--help']],
    ['nfknock knock 127.0.0.1 7000 8000 9000', [process.execPath, cli('nfknock.js'), 'knock', '127.0.0.1', '7000', '8000', '9000']],
  ];
  const env = startupEnv();
  const runs = new Map<string, number[]>(commands.map(([name]) => [name, []]));
  // Interleaved, so a burst of load on the shared machine falls on every command alike.
  for (let i = 0; i < STARTUP_RUNS; i++) {
    for (const [name, argv] of commands) {
      const measured = commandCpuMs(argv, env);
      if (measured !== undefined) runs.get(name)?.push(measured);
    }
  }
  const startup = commands.flatMap(([name]) => {
    const mine = runs.get(name) ?? [];
    return mine.length > 0 ? [{ name, cpuMs: median(mine), runs: mine }] : [];
  });
  return { startup, ...(await idleRss(cli('nfknockd.js'), nodeOptions)) };
}

const rssOf = (pid: number | undefined): number | undefined => {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Math.round((Number(kb) / 1024) * 10) / 10 : undefined;
  } catch {
    return undefined; // exited
  }
};

/** nfknockd on NFLOG in a network namespace of its own (`unshare -n`: no firewall touched), RSS after it settled. */
async function idleRss(daemon: string, nodeOptions: string): Promise<{ idleRssMB?: number; settledRssMB?: number; idleNote: string }> {
  if (process.getuid?.() !== 0) return { idleNote: 'not measured: needs root (NFLOG in a new network namespace)' };
  if (!existsSync('/usr/bin/unshare')) return { idleNote: 'not measured: unshare(1) missing' };
  const dir = mkdtempSync(join(tmpdir(), 'nfknock-idle-'));
  try {
    const config = join(dir, 'knockd.conf');
    writeFileSync(config, benchConfText('true', 'true'), { mode: 0o600 });
    const env = { ...startupEnv(), NODE_OPTIONS: nodeOptions };
    const child = spawn('/usr/bin/unshare', ['-n', process.execPath, daemon, '-c', config, '--state-dir', join(dir, 'state')], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.resume();
    const started = Date.now();
    while (!out.includes('"event":"start"') && Date.now() - started < 15_000 && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    // Let start-up garbage be collected as it would be on an idle server.
    await new Promise((r) => setTimeout(r, 3000));
    const rss = rssOf(child.pid);
    // V8's memory reducer shrinks the heap ~8 s after allocation stops; an idle server spends its life after that.
    await new Promise((r) => setTimeout(r, 12_000));
    const settled = rssOf(child.pid);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
    if (rss === undefined) return { idleNote: `not measured: nfknockd did not stay up (${out.slice(-300)})` };
    const options = nodeOptions === '' ? 'no NODE_OPTIONS' : `NODE_OPTIONS="${nodeOptions}" as in systemd/nfknockd.service`;
    return {
      idleRssMB: rss,
      ...(settled === undefined ? {} : { settledRssMB: settled }),
      idleNote: `nfknockd with the bench's two doors on NFLOG group 5 in a new network namespace, ${options}; VmRSS 3 s after its start record, and 15 s after it`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const num = (n: number | undefined, digits = 0) => (n === undefined ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

function valueAt(rows: ScalingRow[], scenario: string, size?: number): ScalingRow | undefined {
  const matching = rows.filter((r) => r.plan.scenario === scenario);
  return size === undefined ? matching[matching.length - 1] : matching.find((r) => r.size === size);
}

/** How the figure moved from the smallest to the largest size, as a cost ratio (throughput is inverted). */
function growth(rows: ScalingRow[], scenario: string): string {
  const matching = rows.filter((r) => r.plan.scenario === scenario);
  const first = matching[0];
  const last = matching[matching.length - 1];
  if (!first || !last || first === last) return '';
  const throughput = first.result.unit.includes('per CPU-second');
  const cost = throughput ? first.result.value / last.result.value : last.result.value / first.result.value;
  return `cost ×${num(cost, 2)} for ×${num(last.size / first.size)} the size`;
}

export interface EndToEndFigures {
  floodPeakRssMB?: number;
  floodKnockToCommandMs?: number;
  fixedCpuRatio?: number;
}

/** The issue-14 goals, each met / MISSED / not measured, with the figure. */
export function scalingGoals(rows: ScalingRow[], footprint: Footprint | undefined, e2e: EndToEndFigures): string[] {
  const lines: string[] = [];
  const d2 = valueAt(rows, 'doors', 2);
  const d10k = valueAt(rows, 'doors', 10000);
  const shared = valueAt(rows, 'shared');
  if (d2) lines.push(`- NFLOG decode + match >= 2 000 000 events per CPU-second with 2 doors: ${verdict(d2.result.value >= 2e6)} (${num(d2.result.value)})`);
  if (d10k) lines.push(`- ... >= 1 000 000 with 10 000 doors: ${verdict(d10k.result.value >= 1e6)} (${num(d10k.result.value)}; ${growth(rows, 'doors')})`);
  if (shared) {
    lines.push(
      `- ... >= 1 000 000 with ${num(shared.size)} doors sharing the flood's first knock: ${verdict(shared.result.value >= 1e6)} (${num(shared.result.value)}: one shared first-stage attempt per scanner packet; ${growth(rows, 'shared')})`,
    );
  }
  const fewOpen = valueAt(rows, 'open-doors', 10);
  const manyOpen = valueAt(rows, 'open-doors', 10000);
  if (fewOpen && manyOpen) {
    lines.push(
      `- Opening the 10 000th concurrent door costs at most 2× the 10th: ${verdict(manyOpen.result.value <= 2 * fewOpen.result.value)} (${num(fewOpen.result.value)} vs ${num(manyOpen.result.value)} CPU µs per open; ${num(manyOpen.result.extra['bytesPerOpen'])} bytes written per open at 10 000, the whole-file save wrote ${num(manyOpen.result.extra['wholeFileBytesPerOpen'])} in ${num(manyOpen.result.extra['wholeFileUsPerOpen'])} µs)`,
    );
  } else {
    lines.push('- Per open/close cost independent of the doors open (state journal, group commit): not measured this session');
  }
  lines.push(...oneTimeGoal(rows));
  for (const [scenario, size, label] of [
    ['check', 20000, '`nfknock check` of 20 000 doors under 1 s'],
    ['check-pairs', 20000, '`nfknock check` of 20 000 open/close pair doors under 1 s'],
    ['rules', 20000, '`nfknock rules` of 20 000 doors under 1 s'],
    ['rules-onetime', 100000, '`nfknock rules` with a 100 000-line one-time file under 1 s'],
  ] as const) {
    const row = valueAt(rows, scenario, size);
    if (row) lines.push(`- ${label}: ${verdict(row.result.value < 1000)} (${num(row.result.value)} CPU ms in process, plus start-up; ${growth(rows, scenario)})`);
  }
  const time = valueAt(rows, 'time');
  if (time) {
    const extra = time.result.extra;
    lines.push(
      `- Time-based doors within 1.5× a fixed door per packet: ${verdict(time.result.value <= 1.5)} (×${num(time.result.value, 2)} with ${num(time.size)} doors: ${num(extra['timeNsPerEvent'])} vs ${num(extra['fixedNsPerEvent'])} ns)`,
      `- ... with no per-event allocation: ${verdict((extra['timeBytesPerEvent'] ?? Infinity) <= (extra['fixedBytesPerEvent'] ?? 0) + 16)} (${num(extra['timeBytesPerEvent'])} B/event vs ${num(extra['fixedBytesPerEvent'])} for fixed doors; a period turn costs ${num(extra['periodTurnMs'], 2)} ms for ${num(time.size)} doors)`,
    );
  }
  const small = valueAt(rows, 'reload', 1000);
  const large = valueAt(rows, 'reload');
  if (small && large) {
    lines.push(
      `- Reload independent of attempts in progress: ${verdict(large.result.value <= Math.max(1, 2 * small.result.value))} (${num(small.result.value, 3)} ms with ${num(small.size)} attempts, ${num(large.result.value, 3)} ms with ${num(large.size)}; doors reordered: a renumbering walk, ${num(large.result.extra['reorderedMs'], 1)} ms)`,
    );
  }
  if (footprint) {
    if (footprint.idleRssMB !== undefined) {
      const settled = footprint.settledRssMB === undefined ? '' : `; ${num(footprint.settledRssMB, 1)} MB after 15 s`;
      lines.push(`- Idle RSS <= 48 MB: ${verdict(footprint.idleRssMB <= 48)} (${num(footprint.idleRssMB, 1)} MB 3 s after start${settled})`);
    }
    else lines.push(`- Idle RSS <= 48 MB: ${footprint.idleNote}`);
    const bare = footprint.startup[0];
    for (const entry of footprint.startup.slice(1)) {
      if (bare) lines.push(`- \`${entry.name}\` start within 1.5× bare node: ${verdict(entry.cpuMs <= 1.5 * bare.cpuMs)} (${entry.cpuMs} vs ${bare.cpuMs} CPU ms, ×${num(entry.cpuMs / bare.cpuMs, 2)}, medians of ${entry.runs.length})`);
    }
  }
  lines.push(
    e2e.floodPeakRssMB === undefined
      ? '- Max-rate flood peak RSS <= 64 MB: not measured this session (end-to-end run skipped)'
      : `- Max-rate flood peak RSS <= 64 MB: ${verdict(e2e.floodPeakRssMB <= 64)} (${num(e2e.floodPeakRssMB, 1)} MB)`,
    e2e.fixedCpuRatio === undefined
      ? '- End to end, nfknockd CPU <= 1/20 of knockd\'s at ~13 k pps: not measured this session'
      : `- End to end, nfknockd CPU <= 1/20 of knockd's at ~13 k pps: ${verdict(e2e.fixedCpuRatio <= 0.05)} (${num(e2e.fixedCpuRatio, 3)})`,
    e2e.floodKnockToCommandMs === undefined
      ? '- Real knock opens within 100 ms during a max-rate flood: not measured this session'
      : `- Real knock opens within 100 ms during a max-rate flood: ${verdict(e2e.floodKnockToCommandMs <= 100)} (${num(e2e.floodKnockToCommandMs)} ms)`,
  );
  return lines;
}

export function scalingTable(rows: ScalingRow[]): string[] {
  const out: string[] = [];
  for (const plan of SCALING_PLANS) {
    const mine = rows.filter((r) => r.plan === plan);
    if (mine.length === 0) continue;
    out.push(`**${plan.scenario}** — ${plan.what}. ${growth(rows, plan.scenario)}.`, '', '| Size | Median of 3 | Runs | Extra |', '|---:|---:|---|---|');
    for (const row of mine) {
      const extra = Object.entries(row.result.extra).map(([k, v]) => `${k} ${num(v, 2)}`).join(', ');
      out.push(`| ${num(row.size)} | ${num(row.result.value, row.result.value < 10 ? 3 : 0)} | ${row.values.map((v) => num(v, v < 10 ? 3 : 0)).join(' / ')} | ${extra} |`);
    }
    out.push('');
  }
  return out;
}

export function footprintLines(footprint: Footprint): string[] {
  return [
    '| Command | CPU ms (median) | Runs |',
    '|---|---:|---|',
    ...footprint.startup.map((s) => `| \`${s.name}\` | ${s.cpuMs} | ${s.runs.join(' / ')} |`),
    '',
    'Start-up: CPU of each command (user + system, bash `times`), interleaved runs, without NODE_OPTIONS and NODE_EXTRA_CA_CERTS.',
    '',
    `Idle RSS: ${footprint.idleRssMB === undefined ? footprint.idleNote : `${num(footprint.idleRssMB, 1)} MB, ${num(footprint.settledRssMB, 1)} MB after 15 s (${footprint.idleNote})`}.`,
  ];
}

/** O(1) bytes per use, and the whole file used up in linear time: the last tenth costs as much per use as the first, at every size. */
function oneTimeGoal(rows: ScalingRow[]): string[] {
  const mine = rows.filter((r) => r.plan.scenario === 'one-time');
  const small = mine[0];
  const large = mine[mine.length - 1];
  if (!small || !large) return ['- One-time line used with O(1) bytes written, 100 000 lines used up in linear time: not measured this session'];
  const bytes = (row: ScalingRow) => row.result.extra['bytesWrittenPerUse'] ?? Infinity;
  const flat = large.result.value <= 2 * small.result.value && (large.result.extra['lastTenthUsPerUse'] ?? Infinity) <= 2 * (large.result.extra['firstTenthUsPerUse'] ?? 0);
  return [
    `- One-time line used with O(1) bytes written: ${verdict(mine.every((row) => bytes(row) <= 1))} (${mine.map((row) => `${num(bytes(row), 2)} B`).join(' / ')} written per use with ${mine.map((row) => num(row.size)).join(' / ')} lines)`,
    `- ... ${num(large.size)} lines used up in linear time: ${verdict(flat)} (${num(small.result.value)} vs ${num(large.result.value)} CPU µs per use at ${num(small.size)} and ${num(large.size)} lines; ${num(large.result.extra['useUpCpuS'], 2)} CPU s, ${num(large.result.extra['useUpWallS'], 2)} s wall for all ${num(large.size)})`,
  ];
}
