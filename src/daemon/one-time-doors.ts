import type { Door } from '../core/types.js';
import type { Candidate, OneTimeLine, SequenceBook } from '../matcher/sequences.js';
import type { DoorPorts } from './door-service.js';

/**
 * The One_Time_Sequences files: their unused lines go into the sequence book at start and reload,
 * and a line that opened its door is burnt in its file before the door opens.
 */
export class OneTimeDoors {
  constructor(
    private readonly ports: Pick<DoorPorts, 'oneTime' | 'audit' | 'clock' | 'logger'>,
    private readonly sequences: SequenceBook,
  ) {}

  /** Reads every one-time door's file; a file that cannot be read rejects (the caller decides). */
  async load(doors: readonly Door[]): Promise<void> {
    for (const door of doors) {
      if (door.oneTimeFile === undefined) continue;
      const lines = await this.ports.oneTime.read(door);
      this.sequences.setOneTimeLines(door.name, lines);
      if (lines.length === 0) this.ports.audit.oneTimeExhausted(this.ports.clock.now(), door.name);
    }
  }

  /**
   * Comments out the line `sequence` came from, durably. False (and the refusal audited) when it
   * could not be: the door must then stay shut, or the line would stay usable after a restart.
   */
  async burn(door: Door, sequence: Candidate, source: string): Promise<boolean> {
    if (sequence.line === undefined) return true;
    const line: OneTimeLine = { line: sequence.line, steps: [...sequence.steps] };
    const { audit, clock, logger } = this.ports;
    try {
      await this.ports.oneTime.markUsed(door, line);
    } catch (error) {
      logger.error({ err: error, door: door.name, line: line.line }, 'could not mark the one-time sequence used');
      audit.refused(clock.now(), source, door.name, 'the used one-time sequence could not be marked, so the door stays shut');
      return false;
    }
    if (this.sequences.oneTimeRemaining(door.name) === 0) audit.oneTimeExhausted(clock.now(), door.name);
    return true;
  }
}
