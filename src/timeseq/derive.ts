import { createHmac } from 'node:crypto';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { KnockStep, Protocol, TimeSequenceSpec } from '../core/types.js';

/**
 * Time-based knock sequences (issue 7): the door's sequence changes every `periodSeconds`, derived
 * from a shared secret the way TOTP (RFC 6238) derives a code from a time step, so a sequence seen on
 * the wire is worthless once its step is over. The construction, precisely enough to reimplement:
 *
 *   T      = floor(unixSeconds / periodSeconds)                      (unsigned, < 2^53)
 *   M      = UTF-8(doorName) || 0x00 || uint64_be(T)
 *   B(0)   = HMAC-SHA256(secret, M)
 *   B(c)   = HMAC-SHA256(secret, M || uint32_be(c))                  for c = 1, 2, ...
 *   stream = B(0) || B(1) || B(2) || ...                              (read as bytes, in order)
 *
 *   n = portMax - portMin + 1, limit = 65536 - (65536 mod n)
 *   for each of the `length` steps, in order:
 *     repeat: u = next two stream bytes as uint16_be
 *             until u < limit and portMin + (u mod n) was not chosen by an earlier step
 *     port = portMin + (u mod n)
 *     protocol = 'mixed' ? (next stream byte & 1 ? udp : tcp) : the spec's protocol
 *
 * The rejection of u >= limit removes modulo bias (every port equally likely); the rejection of
 * repeats makes each step a distinct port, so a retransmitted SYN can never count as the next knock.
 * Door names must not contain NUL, so M is unambiguous.
 */

export const TIME_SEQUENCE_LIMITS = {
  minLength: 1,
  /** Beyond this a client sends a port scan, not a knock; it also bounds the work per derivation. */
  maxLength: 64,
  minPeriodSeconds: 5,
  maxPeriodSeconds: 86_400,
  minSecretBytes: 16,
} as const;

/** Defaults for a time-based door; 4 knocks in 10 000 ports is what docs/time-based-sequences.md costs out. */
export const timeSequenceDefaults: Omit<TimeSequenceSpec, 'secret' | 'secretFile'> = {
  length: 4,
  portMin: 20000,
  portMax: 29999,
  periodSeconds: 30,
  protocols: 'tcp',
};

export function timeStepAt(epochMs: number, periodSeconds: number): number {
  checkPeriod(periodSeconds);
  if (!Number.isFinite(epochMs) || epochMs < 0) {
    throw new NfknockError(ErrorCodes.INTERNAL, `time-based sequences need a time after 1970, got ${epochMs} ms`);
  }
  return Math.floor(epochMs / (periodSeconds * 1000));
}

/**
 * The steps whose sequences are accepted at `epochMs`: the current one and the previous one, so a
 * client that knocks just before a boundary (or whose clock is a little behind) still gets in.
 */
export function candidateSteps(epochMs: number, periodSeconds: number): number[] {
  const current = timeStepAt(epochMs, periodSeconds);
  return current > 0 ? [current, current - 1] : [current];
}

/** The key under which the matcher remembers that a derived sequence has already opened the door. */
export function timeSequenceReplayKey(doorName: string, step: number): string {
  return `${doorName}\u0000${step}`;
}

/** Why a spec cannot be used, or undefined when it can. Shared by the config loader and the client. */
export function timeSequenceProblem(spec: Omit<TimeSequenceSpec, 'secretFile'>): string | undefined {
  const { length, portMin, portMax, periodSeconds, protocols, secret } = spec;
  const L = TIME_SEQUENCE_LIMITS;
  if (!isPort(portMin) || !isPort(portMax)) return `port range ${portMin}-${portMax} must be within 1-65535`;
  if (portMin > portMax) return `port range ${portMin}-${portMax} is empty (the first port is above the last)`;
  if (!Number.isInteger(length) || length < L.minLength || length > L.maxLength) {
    return `sequence length ${length} must be a whole number from ${L.minLength} to ${L.maxLength}`;
  }
  if (length > portMax - portMin + 1) return `sequence length ${length} is more than the ${portMax - portMin + 1} ports in ${portMin}-${portMax}`;
  if (!Number.isInteger(periodSeconds) || periodSeconds < L.minPeriodSeconds || periodSeconds > L.maxPeriodSeconds) {
    return `period ${periodSeconds} s must be a whole number of seconds from ${L.minPeriodSeconds} to ${L.maxPeriodSeconds}`;
  }
  if (protocols !== 'tcp' && protocols !== 'udp' && protocols !== 'mixed') return `protocols must be tcp, udp or mixed, not ${String(protocols)}`;
  if (secret !== undefined && secret.length < L.minSecretBytes) {
    return `the secret is ${secret.length} bytes; at least ${L.minSecretBytes} are needed (nfknock secret makes 32)`;
  }
  return undefined;
}

export function deriveSequence(spec: TimeSequenceSpec & { secret: Uint8Array }, doorName: string, step: number): KnockStep[] {
  const problem = timeSequenceProblem(spec);
  if (problem) throw new NfknockError(ErrorCodes.CONFIG_INVALID, `door ${JSON.stringify(doorName)}: ${problem}`);
  if (doorName.includes('\u0000')) throw new NfknockError(ErrorCodes.CONFIG_INVALID, 'a door name cannot contain a NUL character');
  if (!Number.isSafeInteger(step) || step < 0) throw new NfknockError(ErrorCodes.INTERNAL, `time step ${step} is not a non-negative integer`);

  const stream = hmacStream(spec.secret, sequenceMessage(doorName, step));
  const span = spec.portMax - spec.portMin + 1;
  const limit = 65536 - (65536 % span);
  const chosen = new Set<number>();
  const steps: KnockStep[] = [];
  while (steps.length < spec.length) {
    const draw = (stream.next() << 8) | stream.next();
    if (draw >= limit) continue;
    const port = spec.portMin + (draw % span);
    if (chosen.has(port)) continue;
    chosen.add(port);
    const protocol: Protocol = spec.protocols === 'mixed' ? ((stream.next() & 1) === 1 ? 'udp' : 'tcp') : spec.protocols;
    steps.push({ port, protocol });
  }
  return steps;
}

/** M = UTF-8(doorName) || 0x00 || uint64_be(step). */
export function sequenceMessage(doorName: string, step: number): Buffer {
  const name = Buffer.from(doorName, 'utf8');
  const message = Buffer.alloc(name.length + 9);
  name.copy(message, 0);
  message[name.length] = 0;
  message.writeBigUInt64BE(BigInt(step), name.length + 1);
  return message;
}

interface ByteStream {
  next(): number;
}

/** The building block, exported so its RFC 4231 test vectors are checked where it is used. */
export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const hmac = createHmac('sha256', key);
  for (const part of parts) hmac.update(part);
  return hmac.digest();
}

function hmacStream(secret: Uint8Array, message: Buffer): ByteStream {
  let counter = 0;
  let block = hmacSha256(secret, message);
  let offset = 0;
  return {
    next(): number {
      if (offset === block.length) {
        counter++;
        const suffix = Buffer.alloc(4);
        suffix.writeUInt32BE(counter);
        block = hmacSha256(secret, message, suffix);
        offset = 0;
      }
      return block[offset++] as number;
    },
  };
}

function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 65535;
}

function checkPeriod(periodSeconds: number): void {
  if (!Number.isInteger(periodSeconds) || periodSeconds <= 0) {
    throw new NfknockError(ErrorCodes.INTERNAL, `period ${periodSeconds} s is not a positive whole number`);
  }
}
