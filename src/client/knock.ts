import { lookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { canonicalAddress } from '../core/address.js';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { Family, KnockStep } from '../core/types.js';

export interface SendKnocksOptions {
  /** Pause between two knocks, as knock's `-d`. */
  delayMs: number;
  /** knock's `-4`/`-6`; undefined takes getaddrinfo's first answer, as knock does; 'both' knocks over each family the name has. */
  family?: Family | 'both';
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
export async function sendKnocks(host: string, steps: KnockStep[], options: SendKnocksOptions): Promise<ResolvedHost[]> {
  if (steps.length === 0) throw new NfknockError(ErrorCodes.USAGE, 'no ports to knock on');
  if (!Number.isInteger(options.delayMs) || options.delayMs < 0) {
    throw new NfknockError(ErrorCodes.USAGE, `delay ${options.delayMs} ms must be a whole number, 0 or more`);
  }
  const targets = options.family === 'both' ? await resolveBothFamilies(host) : [await resolveKnockHost(host, options.family)];
  // One family after the other: each source address must see its whole sequence in order.
  for (const target of targets) await knockAt(target, steps, options);
  return targets;
}

async function knockAt(target: ResolvedHost, steps: KnockStep[], options: SendKnocksOptions): Promise<void> {
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
    return resolved(await lookup(host, { family: family ?? 0, verbatim: true }));
  } catch (error) {
    throw resolutionFailed(host, family === undefined ? '' : ` (IPv${family} only)`, error);
  }
}

/**
 * `--all-families`: getaddrinfo's first answer, then the first answer of the other family if the name
 * has one, so the door opens for whichever family ssh then picks. A literal is just itself.
 */
export async function resolveBothFamilies(host: string): Promise<ResolvedHost[]> {
  if (host.trim() === '' || canonicalAddress(host) || isIPv6(host)) return [await resolveKnockHost(host)];
  let answers: LookupAddress[];
  try {
    answers = await lookup(host, { all: true, verbatim: true });
  } catch (error) {
    throw resolutionFailed(host, '', error);
  }
  const first = answers[0];
  if (!first) throw resolutionFailed(host, '', new Error('no addresses'));
  const other = answers.find((answer) => answer.family !== first.family);
  return other ? [resolved(first), resolved(other)] : [resolved(first)];
}

function resolved(answer: LookupAddress): ResolvedHost {
  return { address: canonicalAddress(answer.address)?.address ?? answer.address, family: answer.family === 6 ? 6 : 4 };
}

function resolutionFailed(host: string, wanted: string, error: unknown): NfknockError {
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  return new NfknockError(ErrorCodes.CLIENT, `cannot resolve host ${JSON.stringify(host)}${wanted}: ${code}`, { cause: error });
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
