/**
 * The composition root: builds the edges, hands them to the Daemon, serves signals. Wiring only; no
 * knock passes through here.
 */
import { defaultOptions, type Config } from '../core/types.js';
import { NfknockError } from '../core/errors.js';
import { integerFlag } from '../core/whole-number.js';
import { loadConfig } from '../config/load.js';
import { logFirewallDrift } from '../check/live-read.js';
import { createLogger, verbosityFromFlags, type Logger } from '../logging/logger.js';
import { KnockLog } from '../logging/knock-log.js';
import { SyslogWriter } from '../logging/syslog-writer.js';
import { CommandQueue } from '../runner/command-queue.js';
import { StateStore } from '../state/state-store.js';
import { OneTimeFiles, oneTimeSteps } from '../state/one-time-file.js';
import { openKnockSource } from '../sources/open-source.js';
import { stateDirNamedIn } from '../config/lenient-state-dir.js';
import { checkKernelLogSource, type KernelLogTrust } from '../sources/kernel-log-guard.js';
import { createTimeSequenceDeriver } from '../timeseq/deriver.js';
import { Audit, type AuditSink } from './audit.js';
import { closeRecordedDoors } from './close-recorded-doors.js';
import { queuedRunners } from './door-commands.js';
import { checkFirewallReady } from '../firewall/kernel-edge.js';
import { Daemon } from './daemon.js';
import { DaemonMetrics } from '../metrics/daemon-metrics.js';
import { mergeFlags, type DaemonFlags } from './options.js';
import { removePidFile, writePidFile } from './pid-file.js';
import { holdHangups, notifyReady, ReloadStatus } from './service-manager.js';
import { readFirewallEpoch } from './firewall-epoch-reader.js';

const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;

/** [options] a SIGHUP cannot apply to a running daemon (the source, interface and LogFile it can). */
const RESTART_ONLY_OPTIONS = ['useSyslog', 'stateDir', 'maxAttempts', 'pidFile', 'metricsFile', 'statsFile', 'syslogTag', 'syslogFacility'] as const;

const systemClock = { now: () => Date.now() };

/** nfknockd's whole life: load, start, serve signals, stop. Resolves with the exit status. */
export async function runDaemon(flags: DaemonFlags): Promise<number> {
  const verbosity = verbosityFromFlags(flags);
  const logger = createLogger({ level: verbosity.level });
  if (flags.closeRecorded) return closeRecordedAndExit(flags, logger);
  const hangups = holdHangups();
  if (flags.daemon) {
    logger.warn('-d/--daemon is accepted for knockd compatibility but nfknockd stays in the foreground: run it under systemd (systemd/nfknockd.service)');
  }
  const commands = new CommandQueue({ logger });
  let config: Config;
  try {
    config = mergeFlags(await loadConfig(flags.config), flags);
  } catch (error) {
    // The doors of the StateDir this config names, read leniently from the broken file; no other directory's.
    const stateDir = flags.stateDir ?? (await stateDirNamedIn(flags.config));
    const audit = new Audit(logger, [], verbosity.echoKnockdLines);
    if (stateDir !== undefined) await closeRecordedDoors(stateDir, { clock: systemClock, logger, audit, commands, commandTimeoutMs: DEFAULT_COMMAND_TIMEOUT_MS });
    else logger.error({ config: flags.config }, 'the configuration cannot be read, so its StateDir is unknown: no recorded door was closed');
    throw error;
  }
  const kernelLogTrust: KernelLogTrust = { allowNetnsLog: flags.allowNetnsLog === true, acceptSharedKernelLog: flags.acceptSharedKernelLog === true };
  const commandTimeoutMs = flags.commandTimeout === undefined ? DEFAULT_COMMAND_TIMEOUT_MS : integerFlag(flags.commandTimeout, '--command-timeout', 1, 86_400) * 1000;

  const knockLog = new KnockLog({ logger });
  await knockLog.open(config.options.logFile);
  const { syslogTag, syslogFacility } = config.options;
  const syslog = config.options.useSyslog ? new SyslogWriter({ logger, tag: syslogTag, facility: syslogFacility, ...(flags.syslogSocket === undefined ? {} : { socket: flags.syslogSocket }) }) : undefined;
  syslog?.start();
  const sinks: AuditSink[] = [{ write: (at, message) => knockLog.writeMessage(at, message) }];
  if (syslog) sinks.push({ write: (_at, message) => syslog.write(message) });
  const metrics = new DaemonMetrics(config, logger);
  const audit = new Audit(logger, sinks, verbosity.echoKnockdLines, (at, record) => metrics.observe(at, record));

  const store = new StateStore(config.options.stateDir, { onProblem: (error) => logger.error({ err: error }, 'compacting the state journal failed; its records stay in the journal') });
  const restored = await store.load();
  for (const problem of restored.problems) logger.error({ problem }, 'state file problem');
  for (const notice of restored.notices ?? []) logger.warn({ notice }, 'state journal');

  const daemon = new Daemon(
    config,
    {
      clock: systemClock,
      logger,
      audit,
      state: {
        record: async (change) => {
          await store.record(change);
          metrics.stateSaved();
        },
        saveUsedSteps: (usedSteps) => store.saveUsedSteps(usedSteps),
      },
      ...queuedRunners(commands, commandTimeoutMs),
      oneTime: new OneTimeFiles(),
      deriver: createTimeSequenceDeriver((door, error) => logger.error({ door: door.name, err: error }, `door [${door.name}] cannot derive its sequence and stays shut; other doors are not affected: ${error.message}`)),
      openSource: (current, sink) => openKnockSource(current, sink, { clock: systemClock, logger, onlyIpV4: flags.onlyIpV4 === true, kernelLogTrust }),
      firewallEpoch: () => readFirewallEpoch(),
    },
    restored,
  );

  // A start command still running must not finish after the next daemon has run its stop; logger(1)
  // would keep a daemon that cannot start alive (and systemd waiting).
  const closeEdges = async () => {
    commands.abortAll();
    await syslog?.close();
    await knockLog.close();
  };
  try {
    await checkFirewallReady(config);
  } catch (error) {
    // Open = doors would open into nothing: refuse, but close the recorded doors first (no daemon will).
    await closeRecordedDoors(config.options.stateDir, { clock: systemClock, logger, audit, commands, commandTimeoutMs });
    await closeEdges();
    throw error;
  }
  await writePidFile(config.options.pidFile);
  try {
    await daemon.start();
    await metrics.start(daemon);
  } catch (error) {
    await daemon.stop();
    await closeEdges();
    await removePidFile(config.options.pidFile);
    throw error;
  }
  void logFirewallDrift(config, logger, () => oneTimeSteps(config));
  await notifyReady(logger);
  return serveSignals({ flags, config, daemon, logger, audit, knockLog, kernelLogTrust, hangups, stopEdges: async () => {
    // The journal folded into pending-closes.json: the file is whole while no daemon runs.
    await store.close();
    await metrics.stop();
    await closeEdges();
    await removePidFile(config.options.pidFile);
  } });
}

interface Served {
  flags: DaemonFlags;
  config: Config;
  daemon: Daemon;
  logger: Logger;
  audit: Audit;
  knockLog: KnockLog;
  kernelLogTrust: KernelLogTrust;
  hangups: ReturnType<typeof holdHangups>;
  stopEdges(): Promise<void>;
}

/** SIGHUP reloads (all or nothing); SIGTERM and SIGINT stop. Resolves with the exit status. */
function serveSignals({ flags, config, daemon, logger, audit, knockLog, kernelLogTrust, hangups, stopEdges }: Served): Promise<number> {
  const reloadStatus = new ReloadStatus(logger);
  return new Promise<number>((resolve) => {
    let reloading = Promise.resolve();
    const onHangup = () => {
      reloading = reloading.then(async () => {
        try {
          const next = mergeFlags(await loadConfig(flags.config), flags);
          // All or nothing: check the kernel-log guard and the Open = doors' sets, and open the LogFile
          // (moved, or reopened for logrotate) before anything switches.
          await checkKernelLogSource(next.options, kernelLogTrust);
          await checkFirewallReady(next);
          const nextLog = await knockLog.prepare(next.options.logFile);
          try {
            await daemon.reload(next);
          } catch (error) {
            knockLog.discard(nextLog);
            throw error;
          }
          knockLog.adopt(nextLog);
          const needRestart = RESTART_ONLY_OPTIONS.filter((key) => next.options[key] !== config.options[key]);
          if (needRestart.length > 0) logger.warn({ options: needRestart }, `changed options that take effect only at restart: ${needRestart.join(', ')}`);
          logger.info({ doors: next.doors.map((door) => door.name) }, 'configuration reloaded');
          void logFirewallDrift(next, logger, () => oneTimeSteps(next));
          await reloadStatus.write(true, `configuration ${flags.config} reloaded`);
        } catch (error) {
          const described = error instanceof NfknockError ? error.describe() : String(error);
          audit.reloadRefused(Date.now(), flags.config, described);
          await reloadStatus.write(false, `configuration refused, the previous one keeps running: ${described}`);
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
        await stopEdges();
        resolve(0);
      })();
    };
    hangups.release(onHangup);
    process.on('SIGTERM', onTerminate);
    process.on('SIGINT', onTerminate);
  });
}

/** --close-recorded: the package's prerm, after the daemon stopped, closes what it left recorded. */
async function closeRecordedAndExit(flags: DaemonFlags, logger: Logger): Promise<number> {
  const stateDir = flags.stateDir ?? (await loadConfig(flags.config).then((config) => config.options.stateDir, () => stateDirNamedIn(flags.config))) ?? defaultOptions.stateDir;
  const audit = new Audit(logger, [], false);
  const commands = new CommandQueue({ logger });
  const left = await closeRecordedDoors(stateDir, { clock: systemClock, logger, audit, commands, commandTimeoutMs: DEFAULT_COMMAND_TIMEOUT_MS }, 'closing every door the state dir records (--close-recorded)');
  return left === 0 ? 0 : 1;
}
