import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultOptions, type Config, type Door } from '../core/types.js';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import { loadConfig } from '../config/load.js';
import { parseOneTimeSequences } from '../config/one-time.js';
import { createLogger, verbosityFromFlags, type Logger } from '../logging/logger.js';
import { KnockLog, SyslogWriter } from '../logging/knock-log.js';
import { CommandQueue } from '../runner/command-queue.js';
import { StateStore } from '../runner/state-store.js';
import { runCommand } from '../runner/shell.js';
import type { PendingClose } from '../runner/state-format.js';
import { markStepsUsed } from '../runner/one-time-file.js';
import { writeFileAtomic } from '../runner/atomic-file.js';
import { NflogSource } from '../sources/nflog.js';
import { KmsgSource } from '../sources/kmsg.js';
import { KernelLogFileSource } from '../sources/file-follow.js';
import type { KnockSource, SourceSink } from '../sources/types.js';
import { timeSequenceDeriver } from '../timeseq/deriver.js';
import { checkFirewallReady, runCall } from '../firewall/kernel-edge.js';
import { removalCallFor } from '../firewall/door-calls.js';
import { removalDone } from '../firewall/operations.js';
import { Audit, type AuditSink } from './audit.js';
import { Daemon } from './daemon.js';
import { mergeFlags, integerFlag, type DaemonFlags } from './options.js';

const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;
const USED_STEPS_FILE = 'time-steps.json';

/** [options] a SIGHUP cannot apply to a running daemon (the source, interface and LogFile it can). */
const RESTART_ONLY_OPTIONS = ['useSyslog', 'stateDir', 'maxAttempts', 'pidFile'] as const;

const systemClock = { now: () => Date.now() };

/** nfknockd's whole life: load, start, serve signals, stop. Resolves with the exit status. */
export async function runDaemon(flags: DaemonFlags): Promise<number> {
  const verbosity = verbosityFromFlags(flags);
  const logger = createLogger({ level: verbosity.level });
  if (flags.daemon) {
    logger.warn('-d/--daemon is accepted for knockd compatibility but nfknockd stays in the foreground: run it under systemd (systemd/nfknockd.service)');
  }
  let config: Config;
  try {
    config = mergeFlags(await loadConfig(flags.config), flags);
  } catch (error) {
    await closeRecordedDoors(flags.stateDir ?? defaultOptions.stateDir, logger);
    throw error;
  }
  const commandTimeoutMs = flags.commandTimeout === undefined ? DEFAULT_COMMAND_TIMEOUT_MS : integerFlag(flags.commandTimeout, '--command-timeout', 1, 86_400) * 1000;

  const knockLog = new KnockLog({ logger });
  await knockLog.open(config.options.logFile);
  const syslog = config.options.useSyslog ? new SyslogWriter({ logger, tag: 'nfknockd', ...(flags.syslogSocket === undefined ? {} : { socket: flags.syslogSocket }) }) : undefined;
  syslog?.start();
  const sinks: AuditSink[] = [{ write: (at, message) => knockLog.writeMessage(at, message) }];
  if (syslog) sinks.push({ write: (_at, message) => syslog.write(message) });
  const audit = new Audit(logger, sinks, verbosity.echoKnockdLines);

  const store = new StateStore(config.options.stateDir);
  const commands = new CommandQueue({ logger });
  const usedStepsPath = join(config.options.stateDir, USED_STEPS_FILE);
  const loaded = await store.load();
  for (const problem of loaded.problems) logger.error({ problem }, 'state file problem');
  const usedSteps = await readUsedSteps(usedStepsPath, logger);
  let stepsWritten = `${JSON.stringify(usedSteps)}\n`;

  const daemon = new Daemon(
    config,
    {
      clock: systemClock,
      logger,
      audit,
      state: {
        save: async ({ pending, usedSteps: steps }) => {
          await store.save(pending);
          // Every open and close saves; the used steps change only when a time-based door opens.
          const text = `${JSON.stringify(steps)}\n`;
          if (text !== stepsWritten) {
            await writeFileAtomic(usedStepsPath, text, 0o600);
            stepsWritten = text;
          }
        },
      },
      runCommand: async (command, kind) => {
        const submission = commands.submit({ kind, command, timeoutMs: commandTimeoutMs });
        if (!submission.accepted) throw new NfknockError(ErrorCodes.COMMAND_FAILED, submission.reason);
        return submission.done;
      },
      runProgram: async (call, kind) => {
        const submission = commands.submit({ kind, command: call.argv.join(' '), argv: call.argv, ...(call.input === undefined ? {} : { input: call.input }), timeoutMs: commandTimeoutMs });
        if (!submission.accepted) throw new NfknockError(ErrorCodes.COMMAND_FAILED, submission.reason);
        return submission.done;
      },
      commandTimeoutMs,
      oneTime: {
        read: (door) => readOneTimeLines(door),
        markUsed: async (door, line) => {
          await markStepsUsed(door.oneTimeFile as string, line.steps);
        },
      },
      deriver: timeSequenceDeriver,
      openSource: (current, sink) => openSource(current, sink, logger, flags.onlyIpV4 === true),
    },
    { pending: loaded.pending, usedSteps },
  );

  await refuseForgeableKernelLog(config, flags.allowNetnsLog === true);
  try {
    await checkFirewallReady(config);
  } catch (error) {
    // Recorded doors still close, from the state file alone, before the refusal ends the start.
    await closeRecordedDoors(config.options.stateDir, logger);
    throw error;
  }
  await writePidFile(config.options.pidFile);
  try {
    await daemon.start();
  } catch (error) {
    await daemon.stop();
    await removePidFile(config.options.pidFile);
    throw error;
  }
  return new Promise<number>((resolve) => {
    let reloading = Promise.resolve();
    const onHangup = () => {
      reloading = reloading.then(async () => {
        try {
          const next = mergeFlags(await loadConfig(flags.config), flags);
          await checkFirewallReady(next);
          await daemon.reload(next);
          // The LogFile may have moved; otherwise reopening lets logrotate's SIGHUP work.
          if (next.options.logFile !== knockLog.path) await knockLog.open(next.options.logFile);
          else await knockLog.reopen();
          const needRestart = RESTART_ONLY_OPTIONS.filter((key) => next.options[key] !== config.options[key]);
          if (needRestart.length > 0) logger.warn({ options: needRestart }, `changed options that take effect only at restart: ${needRestart.join(', ')}`);
          logger.info({ doors: next.doors.map((door) => door.name) }, 'configuration reloaded');
        } catch (error) {
          const described = error instanceof NfknockError ? error.describe() : String(error);
          audit.reloadRefused(Date.now(), flags.config, described);
        }
      });
    };
    const onTerminate = (signal: NodeJS.Signals) => {
      process.off('SIGHUP', onHangup);
      process.off('SIGTERM', onTerminate);
      process.off('SIGINT', onTerminate);
      logger.info({ signal, counters: daemon.counters.snapshot(), openDoors: daemon.openDoors.length }, 'stopping');
      void (async () => {
        await daemon.stop({ closeAll: flags.closeOnExit === true });
        // A start command still running must not finish after the next daemon has run its stop.
        commands.abortAll();
        await syslog?.close();
        await knockLog.close();
        await removePidFile(config.options.pidFile);
        resolve(0);
      })();
    };
    process.on('SIGHUP', onHangup);
    process.on('SIGTERM', onTerminate);
    process.on('SIGINT', onTerminate);
  });
}

function openSource(config: Config, sink: SourceSink, logger: Logger, onlyIpV4: boolean): KnockSource {
  const { options } = config;
  const filtered: SourceSink = onlyIpV4
    ? { ...sink, event: (event) => (event.family === 6 ? sink.reject('ipv6-disabled') : sink.event(event)) }
    : sink;
  const common = { prefix: options.logPrefix, sink: filtered, clock: systemClock, log: logger, ...(options.interface ? { interface: options.interface } : {}) };
  switch (options.source) {
    case 'nflog':
      return new NflogSource({ ...common, group: options.nflogGroup });
    case 'kmsg':
      return new KmsgSource(common);
    case 'file':
      return new KernelLogFileSource({ ...common, path: options.kernelLog as string });
  }
}

const NF_LOG_ALL_NETNS = '/proc/sys/net/netfilter/nf_log_all_netns';

/**
 * With nf_log_all_netns = 1 the LOG lines of every network namespace reach the host's kernel log as
 * kernel messages, and nothing in a line says which namespace wrote it: any user who can make a user
 * namespace (unshare -Urn) can then forge knocks from any address. Only NFLOG stays in its namespace.
 */
async function refuseForgeableKernelLog(config: Config, allowed: boolean): Promise<void> {
  if (config.options.source === 'nflog' || allowed) return;
  const value = await readFile(NF_LOG_ALL_NETNS, 'utf8').catch(() => '0');
  if (value.trim() !== '1') return;
  throw new NfknockError(
    ErrorCodes.SOURCE_UNAVAILABLE,
    `${NF_LOG_ALL_NETNS} is 1: every network namespace's LOG lines reach the kernel log, so any local user with a user namespace could forge knocks; ` +
      'set it to 0, use --source nflog, or pass --allow-netns-log if only trusted namespaces exist (a test lab)',
  );
}

async function readOneTimeLines(door: Door) {
  const file = door.oneTimeFile as string;
  const parsed = parseOneTimeSequences(await readFile(file, 'utf8'), file);
  return parsed.lines;
}

async function readUsedSteps(path: string, logger: Logger): Promise<Record<string, number[]>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') logger.error({ err: error, path }, 'cannot read the used time steps');
    return {};
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
    const result: Record<string, number[]> = {};
    for (const [door, steps] of Object.entries(parsed)) {
      if (Array.isArray(steps) && steps.every((step) => Number.isSafeInteger(step))) result[door] = steps as number[];
    }
    return result;
  } catch (error) {
    logger.error({ err: error, path }, 'the used time steps file is corrupt; time-based sequences of the current step may be replayed once');
    return {};
  }
}

/**
 * The config cannot be read, so no daemon will run to close the doors the state dir records: close
 * them all now, early rather than never. Stop commands that fail stay recorded for the next start.
 */
async function closeRecordedDoors(stateDir: string, logger: Logger): Promise<void> {
  if (!(await stat(stateDir).then((info) => info.isDirectory(), () => false))) return;
  const store = new StateStore(stateDir);
  let pending: PendingClose[];
  try {
    ({ pending } = await store.load());
  } catch (error) {
    logger.error({ err: error, stateDir }, 'cannot read the recorded open doors');
    return;
  }
  if (pending.length === 0) return;
  logger.error({ doors: pending.length, stateDir }, 'the configuration cannot be used: closing every door the state dir records now, rather than leave them open with no daemon to close them');
  const kept: PendingClose[] = [];
  for (const door of pending) {
    const { closed, exitCode, stderr } = await closeRecordedDoor(door);
    logger[closed ? 'info' : 'error']({ door: door.door, source: door.source, exitCode, stderr: stderr || undefined }, closed ? 'door closed' : 'stop command failed; kept for the next start');
    if (!closed) kept.push(door);
  }
  await store.save(kept).catch((error: unknown) => logger.error({ err: error }, 'saving the state failed'));
}

/** Removes a recorded door's kernel entries (an already expired entry counts), then runs its stop command. */
async function closeRecordedDoor(door: PendingClose): Promise<{ closed: boolean; exitCode: number | null; stderr: string }> {
  const removal = removalCallFor(door);
  const firewall = door.open?.firewall;
  let removed = { closed: true, exitCode: 0 as number | null, stderr: '' };
  if (removal !== undefined && firewall !== undefined) {
    const result = await runCall(removal, undefined, DEFAULT_COMMAND_TIMEOUT_MS);
    removed = { closed: removalDone(firewall, result), exitCode: result.exitCode, stderr: result.stderr };
  }
  if (door.stopCommand === undefined) return removed;
  const result = await runCommand(door.stopCommand, { timeoutMs: DEFAULT_COMMAND_TIMEOUT_MS });
  const stopped = result.exitCode === 0 && !result.timedOut;
  return stopped ? removed : { closed: false, exitCode: result.exitCode, stderr: result.stderr };
}

async function writePidFile(path: string | undefined): Promise<void> {
  if (path === undefined) return;
  await writeFileAtomic(path, `${process.pid}\n`, 0o644);
}

async function removePidFile(path: string | undefined): Promise<void> {
  if (path !== undefined) await rm(path, { force: true });
}
