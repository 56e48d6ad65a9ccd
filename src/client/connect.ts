import { connect, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { ResolvedHost } from './knock.js';

/**
 * One connection attempt's patience, doubling from the first to the last: the door usually opens a few
 * milliseconds after the knock, and a SYN it DROPped would only be retransmitted after 1 s, so a fresh
 * attempt soon after gets through sooner; later attempts wait as long as a retransmission would.
 */
const FIRST_ATTEMPT_TIMEOUT_MS = 125;
const ATTEMPT_TIMEOUT_MS = 1000;
/** Pause after a refusal (RST or ICMP): the daemon may still be running the door's start command. */
const RETRY_PAUSE_MS = 200;

type Attempt = { socket: Socket } | { reason: string; answered: boolean };

/**
 * Connects to `port` once the door is open: bounded retries until `waitMs` has passed since the call.
 * Throws NFK_CONNECT_TIMEOUT naming the last reason (no answer, refused...) when the port never accepts.
 */
export async function waitForPort(target: ResolvedHost, port: number, waitMs: number): Promise<Socket> {
  const deadline = Date.now() + waitMs;
  let last = 'no attempt was made';
  let patience = FIRST_ATTEMPT_TIMEOUT_MS;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    const attempt = await tryConnect(target, port, Math.min(patience, remaining));
    patience = Math.min(patience * 2, ATTEMPT_TIMEOUT_MS);
    if ('socket' in attempt) return attempt.socket;
    last = attempt.reason;
    const pause = Math.min(RETRY_PAUSE_MS, deadline - Date.now());
    if (attempt.answered && pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
  }
  throw new NfknockError(
    ErrorCodes.CONNECT_TIMEOUT,
    `${endpoint(target, port)} did not accept a connection within ${waitMs / 1000} s of the knock (last attempt: ${last}): ` +
      'the sequence may be wrong, the door may have closed again, or nothing listens on that port (see --wait)',
  );
}

function tryConnect(target: ResolvedHost, port: number, timeoutMs: number): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = connect({ host: target.address, port, family: target.family, autoSelectFamily: false });
    const timer = setTimeout(() => settle({ reason: 'no answer (filtered)', answered: false }), timeoutMs);
    const onError = (error: NodeJS.ErrnoException) => settle({ reason: error.code === 'ECONNREFUSED' ? 'refused' : (error.code ?? error.message), answered: true });
    socket.once('error', onError);
    socket.once('connect', () => settle({ socket }));
    function settle(attempt: Attempt): void {
      clearTimeout(timer);
      socket.off('error', onError);
      if (!('socket' in attempt)) socket.destroy();
      resolve(attempt);
    }
  });
}

/**
 * Joins input -> socket and socket -> output until the connection closes, as ssh's ProxyCommand needs:
 * the end of input half-closes the connection; the server closing it ends the command.
 */
export function joinStreams(socket: Socket, input: Readable, output: Writable, target: ResolvedHost, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let remoteEnded = false;
    let failure: Error | undefined;
    socket.on('end', () => (remoteEnded = true));
    // After the server has said all it had to say, a reset for our late bytes is not a failure.
    socket.on('error', (error) => {
      if (!remoteEnded) failure ??= error;
    });
    // The reader went away (ssh exited): nothing more to deliver.
    output.on('error', () => socket.destroy());
    input.on('error', (error) => {
      failure ??= error;
      socket.destroy();
    });
    socket.once('close', () => {
      input.unpipe(socket);
      input.destroy();
      if (!failure) return resolve();
      const code = (failure as NodeJS.ErrnoException).code ?? failure.message;
      reject(new NfknockError(ErrorCodes.CLIENT, `connection to ${endpoint(target, port)} failed: ${code}`, { cause: failure }));
    });
    socket.pipe(output);
    input.pipe(socket);
  });
}

export async function connectAndJoin(target: ResolvedHost, port: number, waitMs: number, input: Readable, output: Writable): Promise<void> {
  const socket = await waitForPort(target, port, waitMs);
  await joinStreams(socket, input, output, target, port);
}

function endpoint(target: ResolvedHost, port: number): string {
  return target.family === 6 ? `[${target.address}]:${port}` : `${target.address}:${port}`;
}
