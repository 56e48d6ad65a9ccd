/**
 * Limits the runtime and the state format enforce, in one place so that the config parser refuses
 * at its line what would otherwise fail at a knock (src/config/runtime-limits.ts).
 */

/** Longest door name a state record can hold. */
export const MAX_DOOR_NAME_LENGTH = 256;
/** Longest stop command (after %IP% substitution) a state record can hold. */
export const MAX_STATE_COMMAND_LENGTH = 64 * 1024;
/** Longest address text %IP% can become (a full IPv6 literal). */
export const MAX_ADDRESS_LENGTH = 39;
