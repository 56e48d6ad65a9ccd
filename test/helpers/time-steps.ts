import { timeStepAt } from '../../src/timeseq/derive.js';
import { sleep } from './lab.js';

/**
 * Waits for the next time step when fewer than `neededMs` remain in the current one, so that every
 * knock of a derived sequence (and the checks after it) falls in one step; resolves with that step.
 */
export async function withinOneStep(periodSeconds: number, neededMs: number): Promise<number> {
  const left = periodSeconds * 1000 - (Date.now() % (periodSeconds * 1000));
  if (left < neededMs) await sleep(left + 200);
  return timeStepAt(Date.now(), periodSeconds);
}
