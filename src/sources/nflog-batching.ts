/**
 * How the kernel batches NFLOG messages for us. It sends a batch when NFULA_CFG_QTHRESH messages are
 * queued, when the next one would not fit its NFULA_CFG_NLBUFSIZ buffer, or when NFULA_CFG_TIMEOUT
 * has passed since the first one was queued. Every batch costs a wakeup, two recvmsg calls, a Buffer
 * and a callback, and the code and data the batch needs start cold: far more than decoding a packet.
 *
 * So the threshold is out of the way and the buffer as large as the kernel's allocation allows: a
 * flood arrives in full buffers. The timeout bounds how long a knock waits in a partial batch: short
 * while the group is quiet, so that a lone knock opens at once; longer while thousands of packets a
 * second arrive, which then come in tens of batches a second instead of a hundred, while a knock
 * still waits at most FLOOD_TIMEOUT. Knock times are unaffected: they come from NFULA_TIMESTAMP.
 */

/** More than fit the buffer (a knock's message is ~170 bytes): the buffer or the timeout flushes. */
export const NFLOG_QUEUE_THRESHOLD = 1024;
/**
 * alloc_skb adds ~320 bytes of skb_shared_info and rounds up to a power of two: 64 KiB minus 512 uses
 * all of a 64 KiB allocation (the 32 KiB asked for before took one too, half empty). More would need
 * a 128 KiB atomic allocation in the softirq, which fragmentation can make fail.
 */
export const NFLOG_BUFFER_BYTES = 65536 - 512;
/** Centiseconds (the kernel's unit). */
export const QUIET_TIMEOUT_CS = 1;
export const FLOOD_TIMEOUT_CS = 5;
/** Events per second at which the longer timeout starts, and below which the short one returns. */
export const FLOOD_ENTER_PER_SECOND = 500;
export const FLOOD_LEAVE_PER_SECOND = 100;
const WINDOW_MS = 1000;

/**
 * Chooses the flush timeout from the event rate, measured over windows of at least a second, with
 * hysteresis so that a rate near a threshold does not flip it every second. Pure: time is an argument.
 * After a flood the group may stay silent with the long timeout set: the next knock waits at most
 * FLOOD_TIMEOUT_CS, and the batch that brings it switches back.
 */
export class FlushTimeoutPolicy {
  private windowStart: number;
  private events = 0;
  private flooded = false;

  constructor(now: number) {
    this.windowStart = now;
  }

  /** The timeout in force (what the source last configured). */
  get timeoutCentiseconds(): number {
    return this.flooded ? FLOOD_TIMEOUT_CS : QUIET_TIMEOUT_CS;
  }

  /** Counts a batch of `events` read at `now`; returns the timeout to configure now, or undefined to keep the current one. */
  observe(now: number, events: number): number | undefined {
    this.events += events;
    const elapsed = now - this.windowStart;
    if (elapsed < WINDOW_MS) {
      // A clock stepped back starts a new window rather than stalling this one.
      if (elapsed < 0) this.restart(now);
      return undefined;
    }
    const perSecond = (this.events * 1000) / elapsed;
    this.restart(now);
    if (!this.flooded && perSecond >= FLOOD_ENTER_PER_SECOND) this.flooded = true;
    else if (this.flooded && perSecond < FLOOD_LEAVE_PER_SECOND) this.flooded = false;
    else return undefined;
    return this.timeoutCentiseconds;
  }

  /** The kernel refused the change: go back, and try again after the next window. */
  refused(timeoutCentiseconds: number): void {
    if (timeoutCentiseconds === this.timeoutCentiseconds) this.flooded = !this.flooded;
  }

  private restart(now: number): void {
    this.windowStart = now;
    this.events = 0;
  }
}
