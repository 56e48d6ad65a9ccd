import type { Door } from '../core/types.js';

/**
 * Everything that decides whether a knock advances an attempt (Target too: a door ignores knocks sent
 * elsewhere); commands do not. It also decides a door's group (`DoorGroups`). A reload
 * keeps a door's attempts when its fingerprint is unchanged: computed once per door, not per attempt.
 */
export function matchingFingerprint(door: Door): string {
  const time = door.timeSequence;
  return JSON.stringify([
    door.steps,
    door.seqTimeoutMs,
    door.tcpFlags.required,
    door.tcpFlags.forbidden,
    door.target ?? null,
    door.oneTimeFile ?? null,
    time ? [time.secretFile ?? null, time.secret ? Buffer.from(time.secret).toString('hex') : null, time.length, time.portMin, time.portMax, time.periodSeconds, time.protocols] : null,
  ]);
}
