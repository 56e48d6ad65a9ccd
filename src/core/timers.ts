/**
 * The timers the daemon arms, narrowed to what it uses, so tests can drive them by hand without casts.
 * A handle is opaque: real timers return a NodeJS.Timeout, a test clock may return a number.
 */
export type TimerHandle = NodeJS.Timeout | number;

export interface Timers {
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  setInterval(callback: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

export const systemTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle),
};
