import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import { defaultOptions } from '../core/types.js';
import { STATE_FILE_NAME } from '../state/state-store.js';
import { parseStats } from '../metrics/stats-file.js';
import { formatStats } from './stats.js';
import { formatStatus, missingSnapshot, snapshotFromStateFiles, type JournalText, type StatusSnapshot } from './status.js';
import { journalGeneration } from '../state/journal-format.js';
import { readKernelView, type KernelView } from '../firewall/kernel-edge.js';
import { formatKernelReport, kernelReport, kernelReportJson } from '../firewall/kernel-status.js';
import { checkFirewall, checkNftTable, FIREWALL_KINDS } from '../config/option-values.js';
import type { FirewallKind } from '../core/types.js';

export interface StatusCommandOptions {
  stateDir?: string;
  json?: boolean;
  stats?: boolean;
  statsFile?: string;
  /** nft, ipset, none; default: both, shown when they hold nfknock's sets or a recorded door uses them. */
  firewall?: string;
  /** The inet table of the nft sets when it is not nfknock's own (NftTable). */
  nftTable?: string;
}

export interface StatusCommandIo {
  readFile(path: string): Promise<string>;
  /** The names in a directory, to find the state journals; absent: only the snapshot is read. */
  listDir?(path: string): Promise<string[]>;
  now(): number;
  out(text: string): void;
  /** What the kernel holds in nfknock's sets (issue 13). */
  kernel?(firewall: FirewallKind, nftTable?: string): Promise<KernelView>;
}

export const defaultStatusCommandIo: StatusCommandIo = {
  readFile: (path) => readFile(path, 'utf8'),
  listDir: (path) => readdir(path),
  now: () => Date.now(),
  out: (text) => process.stdout.write(text),
  kernel: (firewall, nftTable) => readKernelView(firewall, undefined, nftTable),
};

/** A compaction moved the state on while it was being read: read it again, this many times at most. */
const MAX_STATUS_READS = 5;

/**
 * Reads the daemon's pending closes, read-only: unlike the daemon's StateStore it never creates the
 * directory, never moves a bad file aside, so it is safe while the daemon runs. The daemon replaces
 * the snapshot by rename and only appends to journals, so each read sees whole files; a compaction
 * between the reads shows as a journal that appeared or vanished, and the state is read again.
 */
export async function readStatus(stateDir: string, io: Pick<StatusCommandIo, 'readFile' | 'listDir'> = defaultStatusCommandIo): Promise<StatusSnapshot> {
  const file = join(stateDir, STATE_FILE_NAME);
  for (let attempt = 1; ; attempt++) {
    const names = await journalNames(stateDir, io);
    const text = await readStateFile(file, io);
    const journals: JournalText[] = [];
    for (const name of names) {
      const journal = await readStateFile(join(stateDir, name), io);
      if (journal === undefined) break;
      journals.push({ name, text: journal });
    }
    const settled = journals.length === names.length && (await journalNames(stateDir, io)).join('/') === names.join('/');
    if (!settled && attempt < MAX_STATUS_READS) continue;
    if (text === undefined && journals.length === 0) return missingSnapshot(file);
    return snapshotFromStateFiles(text, journals, file);
  }
}

async function journalNames(stateDir: string, io: Pick<StatusCommandIo, 'listDir'>): Promise<string[]> {
  if (!io.listDir) return [];
  const names = await io.listDir(stateDir).catch(() => [] as string[]);
  return names.filter((name) => journalGeneration(name) !== undefined).sort();
}

/** A file of the state directory; undefined when it does not exist. */
async function readStateFile(file: string, io: Pick<StatusCommandIo, 'readFile'>): Promise<string | undefined> {
  try {
    return await io.readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new NfknockError(ErrorCodes.PERMISSION, `cannot read ${file}: the state directory is root's alone (run nfknock status as root)`, { cause: error });
    }
    throw new NfknockError(ErrorCodes.STATE_IO, `cannot read ${file}: ${code ?? String(error)}`, { cause: error });
  }
}

export async function runStatusCommand(options: StatusCommandOptions, io: StatusCommandIo = defaultStatusCommandIo): Promise<void> {
  if (options.stats === true || options.statsFile !== undefined) return runStatsCommand(options, io);
  const stateDir = options.stateDir ?? defaultOptions.stateDir;
  if (stateDir.trim() === '') throw new NfknockError(ErrorCodes.USAGE, '--state-dir needs a value');
  const snapshot = await readStatus(stateDir, io);
  const asked = firewallsAsked(options.firewall);
  const views: KernelView[] = [];
  const nftTable = options.nftTable === undefined ? undefined : checkNftTable(options.nftTable);
  if (nftTable?.ok === false) throw new NfknockError(ErrorCodes.USAGE, `--nft-table: ${nftTable.message}`, { location: { text: options.nftTable } });
  for (const firewall of asked ?? FIREWALL_KINDS) if (io.kernel) views.push(await io.kernel(firewall, options.nftTable));
  const report = kernelReport(views, snapshot.pending, asked ?? []);
  const text = formatStatus(snapshot, io.now(), { json: options.json === true });
  if (options.json) io.out(`${JSON.stringify({ ...(JSON.parse(text) as object), ...kernelReportJson(report) }, null, 2)}\n`);
  else io.out(`${[text.trimEnd(), ...formatKernelReport(report, snapshot.pending)].join('\n')}\n`);
  if (snapshot.problems.length > 0) {
    throw new NfknockError(
      ErrorCodes.STATE_CORRUPT,
      `${snapshot.problems.length} record(s) of ${snapshot.stateFile} are unusable (listed above); the doors they name may need closing by hand`,
    );
  }
}

/** `--stats`: the live figures the daemon writes next to its metrics, read-only. */
async function runStatsCommand(options: StatusCommandOptions, io: StatusCommandIo): Promise<void> {
  const file = options.statsFile ?? defaultOptions.statsFile;
  if (file.trim() === '') throw new NfknockError(ErrorCodes.USAGE, '--stats-file needs a value');
  let text: string;
  try {
    text = await io.readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint = code === 'ENOENT' || code === 'ENOTDIR' ? ': nfknockd is not running, or writes its figures elsewhere (StatsFile, --stats-file)' : '';
    throw new NfknockError(ErrorCodes.STATE_IO, `cannot read ${file} (${code ?? String(error)})${hint}`, { cause: error });
  }
  const stats = parseStats(text, file);
  io.out(options.json === true ? `${JSON.stringify(stats, null, 2)}\n` : formatStats(stats, io.now(), file));
}

/** `--firewall`: undefined for "whichever holds nfknock's sets", [] for none. */
function firewallsAsked(text: string | undefined): FirewallKind[] | undefined {
  if (text === undefined) return undefined;
  if (text === 'none') return [];
  const kind = checkFirewall(text);
  if (!kind.ok) throw new NfknockError(ErrorCodes.USAGE, `--firewall must be one of ${FIREWALL_KINDS.join(', ')} or none`, { location: { text } });
  return [kind.value];
}

/** Defines `status`; the CLI only calls this. */
export function registerStatusCommand(program: Command, io: StatusCommandIo = defaultStatusCommandIo): Command {
  return program
    .command('status')
    .description('show the open doors (source, door, opened, closes, time left) from the daemon\'s state directory, and the kernel\'s own countdown of Open = doors')
    .option('--state-dir <dir>', `the daemon's state directory (default ${defaultOptions.stateDir})`)
    .option('--stats', `show the daemon's live figures instead (knocks, rejects, doors, last reload), like fail2ban-client status`)
    .option('--stats-file <path>', `with --stats: the daemon's StatsFile (default ${defaultOptions.statsFile})`)
    .option('--json', 'print JSON')
    .option('--firewall <kind>', 'kernel sets to show next to the state file: nft, ipset or none (default: those that exist)')
    .option('--nft-table <name>', 'the inet table of the nft sets, when NftTable is set (default nfknock)')
    .action(async (options: StatusCommandOptions) => {
      await runStatusCommand(options, io);
    });
}
