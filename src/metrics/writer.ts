/**
 * Writes the metrics file and stats.json: every 15 s, soon after each open and close, and at exit.
 * Each file is replaced atomically (temp file, fsync, rename in its own directory), so node_exporter
 * and `nfknock status --stats` never read half a file. Writing never throws: figures that cannot be
 * written must not stop doors from opening and closing, so failures become one warning until it works.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../state/atomic-file.js';
import { renderPrometheus } from './prometheus.js';
import { renderStats } from './stats-file.js';
import type { MetricsSnapshot } from './snapshot.js';

export const METRICS_INTERVAL_MS = 15_000;
/** Opens and closes that come together (a burst of knocks, a reload) make one write, not one each. */
const COALESCE_MS = 100;
/** node_exporter runs as its own user; the figures hold no address and no sequence. */
const FILE_MODE = 0o644;

export interface MetricsWriterOptions {
  metricsFile?: string;
  statsFile: string;
  /** `stopped`: the write at exit. */
  snapshot: (stopped: boolean) => MetricsSnapshot;
  logger: Logger;
  intervalMs?: number;
}

export class MetricsWriter {
  private interval: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly failing = new Set<string>();

  constructor(private readonly options: MetricsWriterOptions) {}

  /** Writes now, then every interval. */
  async start(): Promise<void> {
    // The runtime directory exists under systemd (RuntimeDirectory=); elsewhere the daemon makes it.
    await mkdir(dirname(this.options.statsFile), { mode: 0o755 }).catch(() => undefined);
    this.interval = setInterval(() => this.soon(0), this.options.intervalMs ?? METRICS_INTERVAL_MS);
    this.interval.unref();
    await this.flush();
  }

  /** Asks for a write shortly; calls in the same moment share it. Never blocks. */
  soon(delayMs = COALESCE_MS): void {
    if (this.stopped || this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.flush();
    }, delayMs);
    this.pending.unref();
  }

  /** The last write, at exit: the final figures stay for whoever looks after the daemon stopped. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.interval) clearInterval(this.interval);
    if (this.pending) clearTimeout(this.pending);
    this.interval = undefined;
    this.pending = undefined;
    await this.writing;
    await this.write(true);
  }

  /** One write at a time; a request during a write makes one more after it. */
  private async flush(): Promise<void> {
    if (this.writing) {
      this.again = true;
      return this.writing;
    }
    this.writing = (async () => {
      do {
        this.again = false;
        await this.write();
      } while (this.again && !this.stopped);
    })();
    try {
      await this.writing;
    } finally {
      this.writing = undefined;
    }
  }

  private async write(stopped = false): Promise<void> {
    const snapshot = this.options.snapshot(stopped);
    const files: Array<[string, string]> = [[this.options.statsFile, renderStats(snapshot)]];
    if (this.options.metricsFile !== undefined) files.push([this.options.metricsFile, renderPrometheus(snapshot)]);
    await Promise.all(files.map(([path, text]) => this.replace(path, text)));
  }

  private async replace(path: string, text: string): Promise<void> {
    try {
      await writeFileAtomic(path, text, FILE_MODE, { published: true });
      if (this.failing.delete(path)) this.options.logger.warn({ path }, 'metrics file writable again');
    } catch (error) {
      if (this.failing.has(path)) return;
      this.failing.add(path);
      this.options.logger.warn({ path, err: error }, 'cannot write a metrics file; trying again with the next update');
    }
  }
}
