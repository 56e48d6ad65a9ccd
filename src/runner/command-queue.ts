/**
 * Bounds how many door commands run at once, so a burst of opens never forks without bound.
 *
 * Start commands: at most `concurrency` run; up to `maxQueuedStarts` wait; beyond that a start is
 * refused (submit returns `accepted: false` and it is logged). The caller must then not schedule the
 * door's stop either: nothing was opened.
 *
 * Stop commands are never refused and never wait behind start commands:
 *  - they have their own queue with no length bound: each stop belongs to a start that was accepted
 *    (or to a persisted pending close), so their number is bounded by opens already done, and a stop
 *    is a few hundred bytes;
 *  - a waiting stop takes the next free slot before any waiting start;
 *  - `stopReserve` extra slots are only for stops, so even `concurrency` hung start commands (each
 *    bounded by its own timeout) cannot delay a stop.
 */
import { failedToStart, runCommand, runProgram, type CommandResult, type RunCommandOptions } from './shell.js';
import type { Logger } from '../logging/logger.js';

export type CommandKind = 'start' | 'stop';

export interface CommandJob {
  kind: CommandKind;
  /** Already substituted (%IP% replaced). */
  command: string;
  /** Instead of `command` under /bin/sh: this program and arguments, no shell (nft/ipset for `Open =`). */
  argv?: readonly string[];
  input?: string;
  timeoutMs: number;
  /** For log messages. */
  door?: string;
  source?: string;
  env?: NodeJS.ProcessEnv;
}

export type Submission = { accepted: true; done: Promise<CommandResult> } | { accepted: false; reason: string };

/** What a door command came to: it ran (its result), or the queue refused it. Never a throw. */
export type CommandOutcome = CommandRan | CommandRefused;
export type CommandRan = Pick<CommandResult, 'exitCode' | 'signal' | 'timedOut' | 'stderr'> & { refused?: undefined };
export interface CommandRefused {
  /** Why the command did not run. */
  refused: string;
}

export type CommandRunner = (command: string, options: RunCommandOptions) => Promise<CommandResult>;

export interface CommandQueueOptions {
  concurrency?: number;
  maxQueuedStarts?: number;
  stopReserve?: number;
  killGraceMs?: number;
  logger?: Logger;
  /** Injected in tests. */
  run?: CommandRunner;
}

export interface CommandQueueStats {
  running: number;
  runningStops: number;
  queuedStarts: number;
  queuedStops: number;
  refusedStarts: number;
}

interface Waiting {
  job: CommandJob;
  resolve: (result: CommandResult) => void;
}

export class CommandQueue {
  private readonly abort = new AbortController();
  private readonly starts: Waiting[] = [];
  private readonly stops: Waiting[] = [];
  private running = 0;
  private runningStops = 0;
  private refusedStarts = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly concurrency: number;
  private readonly maxQueuedStarts: number;
  private readonly stopReserve: number;
  private readonly run: CommandRunner;

  constructor(private readonly options: CommandQueueOptions = {}) {
    this.concurrency = options.concurrency ?? 4;
    this.maxQueuedStarts = options.maxQueuedStarts ?? 32;
    this.stopReserve = options.stopReserve ?? 1;
    this.run = options.run ?? runCommand;
    if (!(this.concurrency >= 1) || !(this.maxQueuedStarts >= 0) || !(this.stopReserve >= 1)) {
      throw new RangeError('CommandQueue needs concurrency >= 1, maxQueuedStarts >= 0, stopReserve >= 1');
    }
  }

  get stats(): CommandQueueStats {
    return {
      running: this.running,
      runningStops: this.runningStops,
      queuedStarts: this.starts.length,
      queuedStops: this.stops.length,
      refusedStarts: this.refusedStarts,
    };
  }

  /**
   * Kills every running command's process group and refuses what waits: for the daemon's exit. A start
   * command must not outlive the daemon and finish after the next daemon has run its stop command.
   */
  abortAll(): void {
    this.abort.abort();
  }

  submit(job: CommandJob): Submission {
    if (job.kind === 'start' && this.running >= this.concurrency && this.starts.length >= this.maxQueuedStarts) {
      this.refusedStarts++;
      const reason = `too many commands running (${this.running}) and queued (${this.starts.length})`;
      this.options.logger?.warn({ door: job.door, source: job.source, refusedStarts: this.refusedStarts }, `start command refused: ${reason}`);
      return { accepted: false, reason };
    }
    const done = new Promise<CommandResult>((resolve) => {
      (job.kind === 'stop' ? this.stops : this.starts).push({ job, resolve });
    });
    this.pump();
    return { accepted: true, done };
  }

  /** Submits a job and waits for it; a refused start comes back as `{ refused }`. */
  async execute(job: CommandJob): Promise<CommandResult | CommandRefused> {
    const submission = this.submit(job);
    return submission.accepted ? submission.done : { refused: submission.reason };
  }

  /** Resolves when nothing is running or waiting (for shutdown: stops must finish before we exit). */
  idle(): Promise<void> {
    if (this.running === 0 && this.starts.length === 0 && this.stops.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    for (;;) {
      const stopSlot = this.stops.length > 0 && (this.running < this.concurrency || this.runningStops < this.stopReserve);
      if (stopSlot) {
        this.launch(this.stops.shift() as Waiting);
        continue;
      }
      if (this.starts.length > 0 && this.running < this.concurrency) {
        this.launch(this.starts.shift() as Waiting);
        continue;
      }
      break;
    }
    if (this.running === 0 && this.starts.length === 0 && this.stops.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  private launch(waiting: Waiting): void {
    const { job } = waiting;
    const isStop = job.kind === 'stop';
    this.running++;
    if (isStop) this.runningStops++;
    const options: RunCommandOptions = { timeoutMs: job.timeoutMs, signal: this.abort.signal };
    if (job.env !== undefined) options.env = job.env;
    if (job.input !== undefined) options.input = job.input;
    if (this.options.killGraceMs !== undefined) options.killGraceMs = this.options.killGraceMs;
    const started = performance.now();
    (job.argv === undefined ? this.run(job.command, options) : runProgram(job.argv, options))
      .catch((error: unknown): CommandResult => failedToStart(error, started))
      .then((result) => {
        this.running--;
        if (isStop) this.runningStops--;
        waiting.resolve(result);
        this.pump();
      });
  }
}
