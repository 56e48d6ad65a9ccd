import { lookup } from 'node:dns/promises';
import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { canonicalAddress } from '../core/address.js';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { Family, KnockStep } from '../core/types.js';

export interface SendKnocksOptions {
  /** Pause between two knocks, as knock's `-d`. */
  delayMs: number;
  /** knock's `-4`/`-6`; undefined takes getaddrinfo's first answer, as knock does. */
  family?: Family;
  /** Receives knock's verbose lines (`hitting tcp 10.0.0.1:7000`). */
  verbose?: (line: string) => void;
}

export interface ResolvedHost {
  address: string;
  family: Family;
}

/**
 * Sends the knocks exactly as knock(1) does: a TCP knock is one SYN from a non-blocking connect(2)
 * closed at once (no handshake, no retransmission, no RST), a UDP knock is one datagram holding a
 * single NUL byte (knock.c's `sendto(sd, "", 1, ...)`). Unlike knock, the host is resolved once, so
 * round-robin DNS cannot split one sequence across two servers.
 */
export async function sendKnocks(host: string, steps: KnockStep[], options: SendKnocksOptions): Promise<void> {
  if (steps.length === 0) throw new NfknockError(ErrorCodes.USAGE, 'no ports to knock on');
  if (!Number.isInteger(options.delayMs) || options.delayMs < 0) {
    throw new NfknockError(ErrorCodes.USAGE, `delay ${options.delayMs} ms must be a whole number, 0 or more`);
  }
  const target = await resolveKnockHost(host, options.family);
  for (const [index, step] of steps.entries()) {
    if (index > 0 && options.delayMs > 0) await sleep(options.delayMs);
    options.verbose?.(`hitting ${step.protocol} ${target.address}:${step.port}`);
    if (step.protocol === 'tcp') await sendSyn(target, step.port);
    else await sendDatagram(target, step.port);
  }
}

/** getaddrinfo's first answer, like knock; `-4`/`-6` restrict the family and refuse a literal of the other. */
export async function resolveKnockHost(host: string, family?: Family): Promise<ResolvedHost> {
  if (host.trim() === '') throw new NfknockError(ErrorCodes.USAGE, 'no host to knock on');
  const literal = canonicalAddress(host) ?? (isIPv6(host) ? { address: host, family: 6 as const } : undefined);
  if (literal) {
    if (family !== undefined && literal.family !== family) {
      throw new NfknockError(ErrorCodes.USAGE, `${host} is an IPv${literal.family} address but -${family} asks for IPv${family}`);
    }
    return literal;
  }
  try {
    const answer = await lookup(host, { family: family ?? 0, verbatim: true });
    return { address: canonicalAddress(answer.address)?.address ?? answer.address, family: answer.family === 6 ? 6 : 4 };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    const wanted = family === undefined ? '' : ` (IPv${family} only)`;
    throw new NfknockError(ErrorCodes.CLIENT, `cannot resolve host ${JSON.stringify(host)}${wanted}: ${code}`, { cause: error });
  }
}

/** The peer answering (RST, or even SYN-ACK) proves the SYN arrived; only local failures count. */
const ANSWERED = new Set(['ECONNREFUSED', 'ECONNRESET']);

/** Upper bound on waiting for node to issue connect(2); it normally takes one event-loop turn. */
const CONNECT_ISSUE_TIMEOUT_MS = 5000;

function sendSyn(target: ResolvedHost, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: NodeJS.ErrnoException | undefined;
    const socket = connect({ host: target.address, port, family: target.family, autoSelectFamily: false });
    const guard = setTimeout(() => finish(false), CONNECT_ISSUE_TIMEOUT_MS);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!ANSWERED.has(error.code ?? '')) failure ??= error;
    });
    // 'connectionAttempt' is emitted just *before* node's connect(2): destroying there sends no SYN at all
    // (the e2e test catches that). By the next setImmediate connect(2) has sent the SYN and any synchronous
    // failure (ENETUNREACH...) has been emitted; closing then, like knock.c, leaves no retransmission.
    socket.once('connectionAttempt', () => setImmediate(() => finish(true)));
    function finish(attempted: boolean): void {
      clearTimeout(guard);
      socket.destroy();
      if (failure) reject(knockFailed('tcp', target, port, failure));
      else if (!attempted) reject(knockFailed('tcp', target, port, new Error('node never issued connect(2) (node >= 20.12 is needed)')));
      else resolve();
    }
  });
}

function sendDatagram(target: ResolvedHost, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(target.family === 6 ? 'udp6' : 'udp4');
    socket.on('error', (error) => {
      socket.close();
      reject(knockFailed('udp', target, port, error));
    });
    socket.send(Buffer.of(0), port, target.address, (error) => {
      socket.close();
      if (error) reject(knockFailed('udp', target, port, error));
      else resolve();
    });
  });
}

function knockFailed(protocol: string, target: ResolvedHost, port: number, cause: Error): NfknockError {
  const code = (cause as NodeJS.ErrnoException).code ?? cause.message;
  return new NfknockError(ErrorCodes.CLIENT, `cannot knock on ${protocol} ${target.address} port ${port}: ${code}`, { cause });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
