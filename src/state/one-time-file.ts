/**
 * One_Time_Sequences: after a sequence is used, its line is commented out so it never opens again.
 *
 * As knockd 0.8 does, the first byte of the line is overwritten with '#' in place (the line
 * `7000,8000,9000` becomes `#000,8000,9000`): one byte written and fdatasync()ed, whatever the
 * size of the file, so a 100 000-line file costs no more per use than a 3-line one, and the owner
 * and mode of the file stay as they are. The daemon remembers, from its trusted read, where each
 * unused line is and what it holds; the byte is written only after the file is checked to be the
 * one read (device, inode, size) and the line's bytes, with the newlines around them, to be
 * unchanged. Anything else (an edited or replaced file) falls back to reading the file again and
 * finding the line by its content, as knockd does; a line no longer there is refused, and the door
 * stays shut. The used sequence itself is kept in the audit's `open` record.
 */
import { constants, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { Config, Door, KnockStep } from '../core/types.js';
import type { OneTimeLine } from '../matcher/sequences.js';
import { inParentOf, readTrustedFile, type OpenedFile, type TrustedDirectory } from '../trust/open.js';
import { parseOneTimeFile, type PlacedOneTimeLine } from '../config/one-time.js';

/** As the config loader's limit: far above any real file. */
const MAX_ONE_TIME_BYTES = 16 * 1024 * 1024;
/** Read and write, never following a symlink; a FIFO or device must not hang the open (fstat refuses them). */
const BURN_FLAGS = constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;
const USED_MARK = Buffer.from('#');
const NEWLINE = 0x0a;

/** A file as the daemon last read (or wrote) it: its identity, its bytes, and its unused lines by number. */
interface KnownFile {
  dev: number;
  ino: number;
  bytes: Buffer;
  unused: Map<number, PlacedOneTimeLine>;
}

/** The One_Time_Sequences files of the daemon's doors: read for the sequence book, burnt in place. */
export class OneTimeFiles {
  private readonly known = new Map<string, KnownFile>();
  /** Per file: reads and burns run one after the other, so that what is known stays what is on disk. */
  private readonly queues = new Map<string, Promise<unknown>>();

  /** The unused lines of `door`'s file, for the sequence book; remembered for burning them later. */
  read(door: Door): Promise<OneTimeLine[]> {
    const path = door.oneTimeFile as string;
    return this.inTurn(path, async () => {
      const { bytes, stats } = await readTrustedFile(path, 'one-time', MAX_ONE_TIME_BYTES);
      return this.remember(path, bytes, stats).lines.map(({ line, steps }) => ({ line, steps }));
    });
  }

  /** Burns the line `line` came from, durably; rejects (and writes nothing) when it is no longer in the file. */
  markUsed(door: Door, line: OneTimeLine): Promise<void> {
    const path = door.oneTimeFile as string;
    return this.inTurn(path, () => inParentOf(path, (dir, name) => this.burn(path, dir, name, line), 'one-time'));
  }

  private async burn(path: string, dir: TrustedDirectory, name: string, wanted: OneTimeLine): Promise<void> {
    let opened: OpenedFile | undefined;
    try {
      opened = await dir.openChild(name, 'one-time', BURN_FLAGS);
    } catch (error) {
      if (error instanceof NfknockError) throw error;
      // A file the daemon may read but not write: mode 0400 under the unit, which has no CAP_DAC_OVERRIDE.
      if ((error as NodeJS.ErrnoException).code === 'EACCES') return this.burnByReplacing(path, dir, name, wanted);
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new NfknockError(ErrorCodes.CONFIG_READ, `cannot open the one-time sequence file ${path} to mark a line used (${code})`, { cause: error, location: { file: path } });
    }
    if (!opened) throw readError(path, Object.assign(new Error(`${name}: no such file`), { code: 'ENOENT' }));
    const { handle, stats } = opened;
    try {
      const known = this.known.get(path);
      let target = known && (await stillInPlace(handle, stats, known, wanted));
      if (!target) target = this.findAgain(path, await readAll(handle, path), stats, wanted);
      try {
        await handle.write(USED_MARK, 0, 1, target.offset);
        await handle.datasync();
      } catch (error) {
        this.known.delete(path); // what is on disk is no longer sure
        throw new NfknockError(ErrorCodes.STATE_IO, `cannot mark line ${target.line} of the one-time sequence file ${path} used (${(error as NodeJS.ErrnoException).code ?? String(error)})`, {
          cause: error,
          location: { file: path, line: target.line },
        });
      }
      const now = this.known.get(path) as KnownFile;
      now.bytes[target.offset] = USED_MARK[0] as number;
      now.unused.delete(target.line);
    } finally {
      await handle.close();
    }
  }

  /**
   * For a read-only file, the way nfknock burnt every line before issue 14: the whole file replaced
   * atomically (in its checked directory) with the same byte turned into '#', its mode and owner kept.
   * It costs the file's size per use, so docs/deploying.md asks for 0600; it keeps a door `check`
   * accepted working.
   */
  private async burnByReplacing(path: string, dir: TrustedDirectory, name: string, wanted: OneTimeLine): Promise<void> {
    const read = await dir.readChild(name, 'one-time', MAX_ONE_TIME_BYTES).catch((error: unknown) => {
      throw readError(path, error);
    });
    if (!read) throw readError(path, Object.assign(new Error(`${name}: no such file`), { code: 'ENOENT' }));
    const target = this.findAgain(path, read.bytes, read.stats, wanted);
    const replaced = Buffer.from(read.bytes);
    replaced[target.offset] = USED_MARK[0] as number;
    // Only a file that is not the daemon's own needs its owner given back: under the unit the syscall
    // filter refuses fchown (@privileged), and a root daemon's new file is already root's.
    const uid = process.geteuid?.();
    const owner = uid === 0 && (read.stats.uid !== uid || read.stats.gid !== process.getegid?.()) ? { uid: read.stats.uid, gid: read.stats.gid } : undefined;
    // A new inode: the next burn reads the file again rather than trust what was known of the old one.
    this.known.delete(path);
    await dir.writeAtomic(name, replaced, read.stats.mode & 0o7777, owner);
  }

  /** The file changed since it was read: the first unused line holding the sequence, found by content as knockd does. */
  private findAgain(path: string, bytes: Buffer, stats: Stats, wanted: OneTimeLine): PlacedOneTimeLine {
    const match = this.remember(path, bytes, stats).lines.find((line) => sameSteps(line.steps, wanted.steps));
    if (!match) {
      throw new NfknockError(ErrorCodes.CONFIG_INVALID, 'no unused line of the one-time sequence file holds the sequence just knocked (was the file edited?)', {
        location: { file: path, line: wanted.line },
      });
    }
    return match;
  }

  private remember(path: string, bytes: Buffer, stats: Stats): { lines: PlacedOneTimeLine[] } {
    this.known.delete(path);
    const parsed = parseOneTimeFile(bytes, path);
    this.known.set(path, { dev: stats.dev, ino: stats.ino, bytes, unused: new Map(parsed.lines.map((line) => [line.line, line])) });
    return parsed;
  }

  private inTurn<T>(path: string, work: () => Promise<T>): Promise<T> {
    const next = (this.queues.get(path) ?? Promise.resolve()).then(work);
    const settled = next.catch(() => undefined);
    this.queues.set(path, settled);
    void settled.then(() => {
      if (this.queues.get(path) === settled) this.queues.delete(path);
    });
    return next;
  }
}

/**
 * Where `wanted` is, if the opened file is still the one read and its bytes around the line are as
 * read: the line itself and the newline (or file edge) on each side, so that an edit that kept the
 * size cannot move another line's bytes under the offset.
 */
async function stillInPlace(handle: FileHandle, stats: Stats, known: KnownFile, wanted: OneTimeLine): Promise<PlacedOneTimeLine | undefined> {
  const line = known.unused.get(wanted.line);
  if (!line || !sameSteps(line.steps, wanted.steps)) return undefined;
  if (stats.dev !== known.dev || stats.ino !== known.ino || stats.size !== known.bytes.length) return undefined;
  const from = line.offset > 0 && known.bytes[line.offset - 1] === NEWLINE ? line.offset - 1 : line.offset;
  const to = Math.min(line.offset + line.length + 1, known.bytes.length);
  const expected = known.bytes.subarray(from, to);
  const found = Buffer.allocUnsafe(expected.length); // compared only when read whole
  const { bytesRead } = await handle.read(found, 0, found.length, from);
  return bytesRead === found.length && found.equals(expected) ? line : undefined;
}

async function readAll(handle: FileHandle, path: string): Promise<Buffer> {
  try {
    const { size } = await handle.stat();
    if (size > MAX_ONE_TIME_BYTES) throw new NfknockError(ErrorCodes.CONFIG_READ, `one-time sequences file ${path} is larger than ${MAX_ONE_TIME_BYTES} bytes`, { location: { file: path } });
    const bytes = Buffer.alloc(size);
    let done = 0;
    for (let read = -1; done < size && read !== 0; done += read) read = (await handle.read(bytes, done, size - done, done)).bytesRead;
    return bytes.subarray(0, done);
  } catch (error) {
    throw readError(path, error);
  }
}

function readError(path: string, error: unknown): NfknockError {
  if (error instanceof NfknockError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  return new NfknockError(ErrorCodes.CONFIG_READ, `cannot read the one-time sequence file ${path} (${code})`, { cause: error, location: { file: path } });
}

function sameSteps(a: readonly KnockStep[], b: readonly KnockStep[]): boolean {
  return a.length === b.length && a.every((step, i) => step.port === b[i]?.port && step.protocol === b[i]?.protocol);
}

/** The unused lines of `door`'s One_Time_Sequences file (the CLI's read; the daemon's is `OneTimeFiles.read`). */
export async function readOneTimeLines(door: Door): Promise<OneTimeLine[]> {
  const file = door.oneTimeFile as string;
  return parseOneTimeFile((await readTrustedFile(file, 'one-time', MAX_ONE_TIME_BYTES)).bytes, file).lines.map(({ line, steps }) => ({ line, steps }));
}

/** The ports of every unused one-time sequence, by door: the kernel must mark them before they are used. */
export async function oneTimeSteps(config: Config): Promise<Map<string, KnockStep[]>> {
  const result = new Map<string, KnockStep[]>();
  for (const door of config.doors) {
    if (door.oneTimeFile === undefined) continue;
    const file = door.oneTimeFile;
    result.set(door.name, parseOneTimeFile((await readTrustedFile(file, 'one-time', MAX_ONE_TIME_BYTES)).bytes, file).lines.flatMap((line) => line.steps));
  }
  return result;
}
