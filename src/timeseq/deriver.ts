import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { TimeSequenceDeriver } from '../matcher/sequences.js';
import { candidateSteps, deriveSequence } from './derive.js';

/**
 * The deriver the matcher's SequenceBook uses for time-based doors, shared by the daemon and
 * `nfknock simulate` so that both accept exactly the same sequences at the same instants.
 */
export const timeSequenceDeriver: TimeSequenceDeriver = {
  stepsAt: (door, at) => (door.timeSequence ? candidateSteps(at, door.timeSequence.periodSeconds) : []),
  derive: (door, step) => {
    const spec = door.timeSequence;
    if (!spec?.secret) throw new NfknockError(ErrorCodes.INTERNAL, `door ${door.name} has no loaded secret`);
    return deriveSequence({ ...spec, secret: spec.secret }, door.name, step);
  },
};
