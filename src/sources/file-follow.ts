import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { FileRejectReason } from '../core/reject-reasons.js';

export interface FileFollowerOptions {
  path: string;
  /** One complete line, without its newline. */
  onLine(line: string): void;
  /** A piece of input that was dropped (a line over the limit, a partial line lost to rotation). */
  onDiscard(reason: FileRejectReason): void;
  onTrouble(error: NfknockError): void;
  /** Safety-net poll period; fs.watch makes most reads immediate. Default 250 ms. */
  pollMs?: number;
  /** Longest line kept; longer ones are dropped up to their newline. Default 64 KiB. */
  maxLineBytes?: number;
  /** At start, the last complete line already in the file (not delivered as a line), if any. */
  onExistingTail?(line: string): void;
  /** Opens the file; undefined or ENOENT when absent. Default: open(path, 'r'). */
  openFile?(path: string): Promise<FileHandle | undefined>;
}

const READ_CHUNK_BYTES = 64 * 1024;
/** Bytes read per pass before yielding to the event loop. */
const MAX_BYTES_PER_PASS = 1024 * 1024;

interface OpenFile {
  handle: FileHandle;
  dev: number;
  ino: number;
  position: number;
}

/**
 * Follows a log file like `tail -F`, from its end at start:
 * - rotation by rename: the old file is read to its end before the new one at the path is opened
 *   (rsyslog closes the old file before it creates the new one, so nothing written before the
 *   rotation is lost), and the new one is read from its beginning;
 * - copytruncate: a size below our position means the file was truncated; reading restarts at 0
 *   (lines written between logrotate's copy and its truncate are lost: a limit of copytruncate);
 * - a file absent at start is read from its beginning once it appears, since all of it is new.
 * Only complete lines are delivered; the partial tail waits for its newline.
 */
export class FileFollower {
  private readonly options: FileFollowerOptions;
  private readonly maxLineBytes: number;
  private current: OpenFile | undefined;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private skippingLongLine = false;
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private missingReported = false;

  constructor(options: FileFollowerOptions) {
    this.options = options;
    this.maxLineBytes = options.maxLineBytes ?? 64 * 1024;
  }

  async start(): Promise<void> {
    const opened = await this.openAtPath();
    if (opened) {
      opened.position = (await opened.handle.stat()).size;
      this.current = opened;
      if (this.options.onExistingTail) await this.reportExistingTail(opened, this.options.onExistingTail);
    } else {
      this.reportMissing();
    }
    this.startWatching();
    this.schedule();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
    await this.running;
    await this.current?.handle.close();
    this.current = undefined;
  }

  /** Runs a pass now (or right after the one in progress). */
  poke(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.pass()
      .catch((error: unknown) => this.options.onTrouble(asTrouble(`following ${this.options.path} failed`, error)))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.poke();
        } else {
          this.schedule();
        }
      });
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.poke();
    }, this.options.pollMs ?? 250);
  }

  private startWatching(): void {
    // Watching the directory sees writes, creation and renames of the file; if the directory is
    // missing or inotify is exhausted, the poll timer alone still works.
    try {
      const name = basename(this.options.path);
      this.watcher = watch(dirname(this.options.path), { persistent: false }, (_event, file) => {
        if (file === null || String(file).startsWith(name)) this.poke();
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      this.watcher = undefined;
    }
  }

  private async pass(): Promise<void> {
    if (this.current) {
      const budgetLeft = await this.readAvailable(this.current);
      if (budgetLeft === 0) {
        this.again = true;
        return;
      }
    }
    const atPath = await statOrUndefined(this.options.path);
    if (!atPath) {
      if (!this.current) this.reportMissing();
      return; // keep the old file open: rsyslog may still be writing to it
    }
    if (this.current && atPath.dev === this.current.dev && atPath.ino === this.current.ino) {
      if (atPath.size < this.current.position) {
        this.dropPartial('partial-line-lost-to-truncation');
        this.current.position = 0;
        this.again = true;
      }
      return;
    }
    // A different file is at the path: finish the old one, then switch to the new one from its start.
    if (this.current) {
      await this.readAvailable(this.current, Number.POSITIVE_INFINITY);
      this.dropPartial('partial-line-lost-to-rotation');
      await this.current.handle.close();
      this.current = undefined;
    }
    const opened = await this.openAtPath();
    if (opened) {
      this.missingReported = false;
      this.current = opened;
      this.again = true;
    }
  }

  /** Reads from the position to the end of file; returns the byte budget left (0: more to read). */
  private async readAvailable(file: OpenFile, budget = MAX_BYTES_PER_PASS): Promise<number> {
    const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    while (budget > 0 && !this.closed) {
      const { bytesRead } = await file.handle.read(chunk, 0, chunk.length, file.position);
      if (bytesRead === 0) return budget;
      file.position += bytesRead;
      budget -= bytesRead;
      this.consume(chunk.subarray(0, bytesRead));
    }
    return Math.max(0, budget);
  }

  private consume(bytes: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = bytes.indexOf(0x0a, start);
      if (newline < 0) break;
      this.appendPartial(bytes.subarray(start, newline));
      const line = Buffer.concat(this.partial, this.partialBytes);
      const skipped = this.skippingLongLine;
      this.partial = [];
      this.partialBytes = 0;
      this.skippingLongLine = false;
      if (!skipped) this.options.onLine(stripCarriageReturn(line.toString('utf8')));
      start = newline + 1;
    }
    this.appendPartial(bytes.subarray(start));
  }

  private appendPartial(bytes: Buffer): void {
    if (bytes.length === 0 || this.skippingLongLine) return;
    if (this.partialBytes + bytes.length > this.maxLineBytes) {
      this.partial = [];
      this.partialBytes = 0;
      this.skippingLongLine = true;
      this.options.onDiscard('line-too-long');
      return;
    }
    // Copy: the read buffer is reused.
    this.partial.push(Buffer.from(bytes));
    this.partialBytes += bytes.length;
  }

  private dropPartial(reason: FileRejectReason): void {
    if (this.partialBytes > 0) this.options.onDiscard(reason);
    this.partial = [];
    this.partialBytes = 0;
    this.skippingLongLine = false;
  }

  private async openAtPath(): Promise<OpenFile | undefined> {
    let handle: FileHandle;
    try {
      const opened = await (this.options.openFile ?? ((path) => open(path, 'r')))(this.options.path);
      if (!opened) return undefined;
      handle = opened;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      this.options.onTrouble(asTrouble(`cannot open ${this.options.path}`, error));
      return undefined;
    }
    const info = await handle.stat();
    return { handle, dev: info.dev, ino: info.ino, position: 0 };
  }

  private async reportExistingTail(file: OpenFile, report: (line: string) => void): Promise<void> {
    const length = Math.min(file.position, this.maxLineBytes + 1);
    const tail = Buffer.alloc(length);
    const { bytesRead } = await file.handle.read(tail, 0, length, file.position - length);
    const text = tail.toString('utf8', 0, bytesRead);
    const end = text.lastIndexOf('\n');
    if (end < 0) return;
    const line = text.slice(text.lastIndexOf('\n', end - 1) + 1, end);
    if (line.length > 0) report(stripCarriageReturn(line));
  }

  private reportMissing(): void {
    if (this.missingReported) return;
    this.missingReported = true;
    this.options.onTrouble(
      new NfknockError(ErrorCodes.SOURCE_UNAVAILABLE, `${this.options.path} does not exist yet; waiting for it to appear`),
    );
  }
}

function stripCarriageReturn(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

async function statOrUndefined(path: string): Promise<{ dev: number; ino: number; size: number } | undefined> {
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}

function asTrouble(message: string, error: unknown): NfknockError {
  if (error instanceof NfknockError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return new NfknockError(ErrorCodes.SOURCE_FAILED, `${message}: ${code ?? String(error)}`, { cause: error });
}
