import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { Door } from '../core/types.js';
import type { TimeSequenceDeriver } from '../matcher/sequences.js';
import { candidateSteps, deriveSequence } from './derive.js';

/** Told once per door when its sequences cannot be derived; the door is then skipped, never the packet. */
export type DerivationFailure = (door: Door, error: NfknockError) => void;

/**
 * The deriver the matcher's SequenceBook uses for time-based doors, shared by the daemon and
 * `nfknock simulate` so that both accept exactly the same sequences at the same instants. It never
 * throws: a door whose sequence cannot be derived has no candidates (it cannot open), reported once
 * through `onFailure`, and every other door and packet goes on as before.
 */
export function createTimeSequenceDeriver(onFailure: DerivationFailure = () => undefined): TimeSequenceDeriver {
  const reported = new Set<string>();
  const failed = (door: Door, error: unknown): [] => {
    if (!reported.has(door.name)) {
      reported.add(door.name);
      onFailure(door, error instanceof NfknockError ? error : new NfknockError(ErrorCodes.INTERNAL, String(error), { cause: error }));
    }
    return [];
  };
  return {
    stepsAt: (door, at) => {
      try {
        return door.timeSequence ? candidateSteps(at, door.timeSequence.periodSeconds) : [];
      } catch (error) {
        return failed(door, error);
      }
    },
    derive: (door, step) => {
      try {
        const spec = door.timeSequence;
        if (!spec?.secret) throw new NfknockError(ErrorCodes.INTERNAL, `door ${door.name} has no loaded secret`);
        return deriveSequence({ ...spec, secret: spec.secret }, door.name, step);
      } catch (error) {
        return failed(door, error);
      }
    },
  };
}

export const timeSequenceDeriver: TimeSequenceDeriver = createTimeSequenceDeriver();
