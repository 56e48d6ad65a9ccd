/**
 * The metrics as the daemon wires them: door activity counted from the audit records, snapshots
 * taken from the running daemon, written by MetricsWriter. main.ts only creates this, hands
 * `observe` to the Audit, attaches the daemon once it exists, and starts and stops it.
 */
import type { Logger } from 'pino';
import type { Config } from '../core/types.js';
import { packageVersion } from '../cli/version.js';
import { DoorActivity, takeSnapshot, type AuditRecord, type DaemonFigures } from './snapshot.js';
import { MetricsWriter } from './writer.js';

/** Records after which the files are rewritten at once, not at the next 15 s tick. */
const WRITE_SOON_AFTER = new Set(['open', 'close', 'command-result', 'reload', 'reload-refused']);

export interface RunningDaemon extends DaemonFigures {
  readonly activeConfig: Config;
}

export class DaemonMetrics {
  private readonly activity: DoorActivity;
  private readonly writer: MetricsWriter;
  private daemon: RunningDaemon | undefined;
  private readonly version = packageVersion();

  constructor(config: Config, logger: Logger, private readonly startedAt = Date.now()) {
    this.activity = new DoorActivity(startedAt);
    this.writer = new MetricsWriter({
      statsFile: config.options.statsFile,
      ...(config.options.metricsFile === undefined ? {} : { metricsFile: config.options.metricsFile }),
      logger,
      snapshot: (stopped) => this.snapshot(stopped),
    });
  }

  /** The Audit's observer: O(1) per record. */
  observe(at: number, record: AuditRecord): void {
    this.activity.observe(at, record);
    if (this.daemon && WRITE_SOON_AFTER.has(record.event)) this.writer.soon();
  }

  /** Every open and close persists the state: the open-door gauge changes then. */
  stateSaved(): void {
    if (this.daemon) this.writer.soon();
  }

  async start(daemon: RunningDaemon): Promise<void> {
    this.daemon = daemon;
    await this.writer.start();
  }

  async stop(): Promise<void> {
    if (this.daemon) await this.writer.stop();
  }

  private snapshot(stopped: boolean) {
    const daemon = this.daemon as RunningDaemon;
    const config = daemon.activeConfig;
    return takeSnapshot(daemon, this.activity, {
      version: this.version,
      pid: process.pid,
      startedAt: this.startedAt,
      now: Date.now(),
      source: config.options.source,
      configuredDoors: config.doors.map((door) => door.name),
      stopped,
    });
  }
}
