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

/** CPU seconds (user + system) of a command, from GNU time; undefined without /usr/bin/time. */
function commandCpu(argv: string[]): { cpu: number; rssKB: number } | undefined {
  if (!existsSync('/usr/bin/time')) return undefined;
  const run = spawnSync('/usr/bin/time', ['-f', '%U %S %M', ...argv], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const last = run.stderr.trim().split('\n').pop() ?? '';
  const [user, system, rss] = last.split(' ').map(Number);
  return user === undefined || system === undefined || rss === undefined || Number.isNaN(user) ? undefined : { cpu: user + system, rssKB: rss };
}

export interface Footprint {
  startup: { name: string; cpuMs: number; runs: number[] }[];
  idleRssMB?: number;
  idleNote: string;
}

/** Start-up CPU (medians of 5) of bare node, `nfknockd --help` and a loopback `nfknock knock`, and nfknockd's idle RSS. */
export async function measureFootprint(repoRoot: string): Promise<Footprint> {
  const cli = (name: string) => join(repoRoot, 'dist', 'src', 'cli', name);
  const commands: [string, string[]][] = [
    ['bare node (node -e 0)', [process.execPath, '-e', '0']],
    ['nfknockd --help', [process.execPath, cli('nfknockd.js'), '--help']],
    ['nfknock knock 127.0.0.1 7000 8000 9000', [process.execPath, cli('nfknock.js'), 'knock', '127.0.0.1', '7000', '8000', '9000']],
  ];
  const startup: Footprint['startup'] = [];
  for (const [name, argv] of commands) {
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const measured = commandCpu(argv);
      if (measured) runs.push(Math.round(measured.cpu * 1000));
    }
    if (runs.length > 0) startup.push({ name, cpuMs: median(runs), runs });
  }
  return { startup, ...(await idleRss(cli('nfknockd.js'))) };
}

/** nfknockd on NFLOG in a network namespace of its own (`unshare -n`: no firewall touched), RSS after it settled. */
async function idleRss(daemon: string): Promise<{ idleRssMB?: number; idleNote: string }> {
  if (process.getuid?.() !== 0) return { idleNote: 'not measured: needs root (NFLOG in a new network namespace)' };
  if (!existsSync('/usr/bin/unshare')) return { idleNote: 'not measured: unshare(1) missing' };
  const dir = mkdtempSync(join(tmpdir(), 'nfknock-idle-'));
  try {
    const config = join(dir, 'knockd.conf');
    writeFileSync(config, benchConfText('true', 'true'), { mode: 0o600 });
    const child = spawn('/usr/bin/unshare', ['-n', process.execPath, daemon, '-c', config, '--state-dir', join(dir, 'state')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.resume();
    const started = Date.now();
    while (!out.includes('"event":"start"') && Date.now() - started < 15_000 && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    // Let start-up garbage be collected as it would be on an idle server.
    await new Promise((r) => setTimeout(r, 3000));
    let rss: number | undefined;
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
      if (kb) rss = Math.round((Number(kb) / 1024) * 10) / 10;
    } catch {
      // exited
    }
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
    if (rss === undefined) return { idleNote: `not measured: nfknockd did not stay up (${out.slice(-300)})` };
    return { idleRssMB: rss, idleNote: `nfknockd with the bench's two doors on NFLOG group 5 in a new network namespace, VmRSS 3 s after its start record` };
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
      `- ... >= 1 000 000 with ${num(shared.size)} doors sharing the flood's first knock: ${verdict(shared.result.value >= 1e6)} (${num(shared.result.value)}: every scanner packet starts one attempt per door, ${growth(rows, 'shared')})`,
    );
  }
  lines.push('- Per open/close cost independent of the doors open (state journal, group commit): not measured this session (the state store belongs to issues 10 and 11 today)');
  lines.push('- One-time line used with O(1) bytes written, 100 000 lines used up in linear time: not measured this session (state store, issue 11)');
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
    if (footprint.idleRssMB !== undefined) lines.push(`- Idle RSS <= 48 MB: ${verdict(footprint.idleRssMB <= 48)} (${num(footprint.idleRssMB, 1)} MB)`);
    else lines.push(`- Idle RSS <= 48 MB: ${footprint.idleNote}`);
    const bare = footprint.startup[0];
    for (const entry of footprint.startup.slice(1)) {
      if (bare) lines.push(`- \`${entry.name}\` start within 1.5× bare node: ${verdict(entry.cpuMs <= 1.5 * bare.cpuMs)} (${entry.cpuMs} vs ${bare.cpuMs} CPU ms, medians of 5)`);
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
    '| Command | CPU ms (median of 5) | Runs |',
    '|---|---:|---|',
    ...footprint.startup.map((s) => `| \`${s.name}\` | ${s.cpuMs} | ${s.runs.join(' / ')} |`),
    '',
    `Idle RSS: ${footprint.idleRssMB === undefined ? footprint.idleNote : `${num(footprint.idleRssMB, 1)} MB (${footprint.idleNote})`}.`,
  ];
}
