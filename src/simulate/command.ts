import { parseWholeNumber } from '../core/whole-number.js';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { checkKernelLogSource } from '../sources/kernel-log-guard.js';
import { openTrustedFile } from '../trust/open.js';
import { createInterface } from 'node:readline';
import { Command, Option } from 'commander';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { Config } from '../core/types.js';
import { loadConfig } from '../config/load.js';
import { parseOneTimeSequences } from '../config/one-time.js';
import { parseSequence } from '../config/sequence.js';
import { cTrim } from '../config/text.js';
import type { OneTimeLine } from '../matcher/sequences.js';
import { timeSequenceDeriver } from '../timeseq/deriver.js';
import { formatReport } from './format.js';
import { referenceForYear, Simulation, type SimulateOptions } from './simulate.js';

/** The flags of `nfknock simulate`, as commander hands them over (already checked by the parsers). */
export interface SimulateCommandOptions {
  config: string;
  json?: boolean;
  verbose?: boolean;
  prefix?: string;
  year?: number;
  utcOffset?: number;
  bootTime?: number;
  includeUsed?: boolean;
}

/** Everything the command touches outside itself, so tests can run it on strings. */
export interface SimulateCommandIo {
  loadConfig(path: string): Promise<Config>;
  /** The lines of a file, or of standard input for `-`; rejects when it cannot be opened. */
  lines(path: string): AsyncIterable<string>;
  readFile(path: string): Promise<string>;
  /**
   * Does `path` pass the KernelLog policy (src/trust/: the dedicated root-only file, not a general
   * syslog file)? Judged on the opened descriptor, never granted because of a path.
   */
  trustedKernelLog(path: string): Promise<boolean>;
  stdinIsTerminal(): boolean;
  now(): number;
  /** Minutes east of UTC of this host's local time at an instant. */
  localUtcOffsetAt(epochMs: number): number;
  out(text: string): void;
}

export const defaultSimulateCommandIo: SimulateCommandIo = {
  loadConfig,
  lines: (path) => readLines(path),
  readFile: (path) => readFile(path, 'utf8'),
  trustedKernelLog: async (path) => {
    try {
      await checkKernelLogSource({ source: 'file', kernelLog: path }, { allowNetnsLog: true, acceptSharedKernelLog: false });
      const opened = await openTrustedFile(path, 'kernel-log');
      await opened?.handle.close();
      return opened !== undefined;
    } catch {
      return false;
    }
  },
  stdinIsTerminal: () => process.stdin.isTTY === true,
  now: () => Date.now(),
  localUtcOffsetAt: (epochMs) => -new Date(epochMs).getTimezoneOffset(),
  out: (text) => process.stdout.write(text),
};

export async function runSimulateCommand(file: string | undefined, options: SimulateCommandOptions, io: SimulateCommandIo = defaultSimulateCommandIo): Promise<void> {
  const config = await io.loadConfig(options.config);
  const input = file ?? config.options.kernelLog ?? '-';
  if (input === '-' && io.stdinIsTerminal()) {
    throw new NfknockError(ErrorCodes.USAGE, 'give the log FILE to replay, or pipe it in (e.g. `journalctl -k | nfknock simulate -c knockd.conf -`)');
  }
  const utcOffset = options.utcOffset;
  const simulateOptions: SimulateOptions = {
    reference: options.year === undefined ? io.now() : referenceForYear(options.year),
    utcOffsetAt: utcOffset === undefined ? io.localUtcOffsetAt : () => utcOffset,
    deriver: timeSequenceDeriver,
    oneTimeLines: await readOneTimeLines(config, options.includeUsed === true, io),
    keepSkippedLines: options.verbose === true,
    dedicatedKernelLog: input !== '-' && (await io.trustedKernelLog(input)),
  };
  if (options.prefix !== undefined) simulateOptions.prefix = options.prefix;
  if (options.bootTime !== undefined) simulateOptions.bootTimeMs = options.bootTime;

  const simulation = new Simulation(config, simulateOptions);
  try {
    for await (const line of io.lines(input)) simulation.line(line);
  } catch (error) {
    if (error instanceof NfknockError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new NfknockError(ErrorCodes.SOURCE_UNAVAILABLE, `cannot read the log ${input === '-' ? '(standard input)' : input}: ${code}`, { cause: error });
  }
  io.out(formatReport(simulation.finish(), { json: options.json === true, verbose: options.verbose === true }));
}

/**
 * The unused lines of each one-time door's file. With `includeUsed`, lines commented out with a `#`
 * in front (`#7000,8000,9000`: by hand, or by nfknock before it marked used lines as knockd does)
 * count as unused too: a log from before they were used replays as it happened. knockd's marking,
 * nfknockd's too now (`#000,8000,9000`), destroys the first port: such a line stays unusable, or,
 * when what is left still reads as a sequence (`17000,...` became `#7000,...`), comes back as
 * another one. The daemon's `open` record keeps the sequence a line held (`knocks`).
 */
async function readOneTimeLines(config: Config, includeUsed: boolean, io: SimulateCommandIo): Promise<Map<string, OneTimeLine[]>> {
  const result = new Map<string, OneTimeLine[]>();
  for (const door of config.doors) {
    if (door.oneTimeFile === undefined) continue;
    let text = await io.readFile(door.oneTimeFile).catch((error: unknown) => {
      throw new NfknockError(ErrorCodes.CONFIG_READ, `cannot read the one-time sequence file ${door.oneTimeFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
        cause: error,
      });
    });
    if (includeUsed) text = text.split('\n').map(uncommentUsedSequence).join('\n');
    result.set(door.name, parseOneTimeSequences(text, door.oneTimeFile).lines);
  }
  return result;
}

function uncommentUsedSequence(line: string): string {
  const trimmed = cTrim(line);
  if (!trimmed.startsWith('#')) return line;
  return parseSequence(trimmed.slice(1)).ok ? trimmed.slice(1) : line;
}

async function* readLines(path: string): AsyncIterable<string> {
  const stream = path === '-' ? process.stdin : createReadStream(path, { encoding: 'utf8' });
  if (path === '-') process.stdin.setEncoding('utf8');
  // createReadStream reports ENOENT/EACCES asynchronously; wait for open so the error is ours to word.
  if (path !== '-') {
    await new Promise<void>((resolve, reject) => {
      stream.once('ready', () => resolve());
      stream.once('error', reject);
    });
  }
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  yield* lines;
}

function usage(message: string, text: string): NfknockError {
  return new NfknockError(ErrorCodes.USAGE, message, { location: { text } });
}

function parseYear(text: string): number {
  return parseWholeNumber(text, { min: 1970, max: 9999, message: '--year takes a year such as 2026' });
}

function parseUtcOffset(text: string): number {
  if (!/^[+-]?[0-9]{1,4}$/.test(text) || Math.abs(Number(text)) > 18 * 60) throw usage('--utc-offset takes minutes east of UTC, from -1080 to 1080 (e.g. 60 for CET, -300 for EST)', text);
  return Number(text);
}

/** `2026-11-22T08:00:00Z` or `@1795334400` (epoch seconds): the wall-clock time of the boot. */
function parseBootTime(text: string): number {
  if (/^@[0-9]{1,12}(\.[0-9]{1,6})?$/.test(text)) return Math.round(Number(text.slice(1)) * 1000);
  if (/^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})$/.test(text)) {
    const ms = Date.parse(text.replace(' ', 'T'));
    if (Number.isFinite(ms)) return ms;
  }
  throw usage('--boot-time takes an RFC 3339 time with its zone (2026-11-22T08:00:00Z) or @epoch-seconds (uptime -s / `date -d "$(uptime -s)" +@%s`)', text);
}

/** Defines `simulate`; the CLI only calls this. */
export function registerSimulateCommand(program: Command, io: SimulateCommandIo = defaultSimulateCommandIo): Command {
  return program
    .command('simulate')
    .description('replay a kernel log through a knockd.conf, running nothing: every stage, broken sequence, timeout, open and close')
    .argument('[file]', 'the log: rsyslog file, `cat /dev/kmsg`, `dmesg [-r|-T]` or `journalctl -k` output; `-` reads standard input (default: the config\'s KernelLog, else standard input)')
    .requiredOption('-c, --config <file>', 'the knockd.conf to check')
    .option('--json', 'print the report as JSON')
    .option('-v, --verbose', 'also list every line that was not a knock, with its number and reason')
    .option('--prefix <text>', 'the LOG prefix (default: the config\'s LogPrefix, else portknock)')
    .addOption(new Option('--year <yyyy>', 'year of the first line, for stamps without one (default: the year that puts it closest to now)').argParser(parseYear))
    .addOption(new Option('--utc-offset <minutes>', 'the log\'s local time, minutes east of UTC, for stamps without a zone (default: this host\'s)').argParser(parseUtcOffset))
    .addOption(new Option('--boot-time <time>', 'wall-clock time of the boot, to date kmsg/dmesg stamps (default: print them as seconds since boot)').argParser(parseBootTime))
    .addHelpText(
      'after',
      '\nTrust: in a general syslog file (and in plain `dmesg` output) any local user can forge a knock line with\n' +
        '`logger -t kernel`; the summary warns when knocks came from such input. /dev/kmsg dumps, `dmesg -r` and the\n' +
        'dedicated file of rules/rsyslog-nfknock.conf (KernelLog) carry only what the kernel wrote.',
    )
    .option('--include-used', 'one-time doors: also accept sequences commented out with a "#" in front (to audit a log from before they were used; a line marked used in place, as knockd and nfknockd do, has lost its first character)')
    .action(async (file: string | undefined, options: SimulateCommandOptions) => {
      await runSimulateCommand(file, options, io);
    });
}
