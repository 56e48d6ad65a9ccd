// Only the files used: the package's index loads every family it knows (genl, nl80211, rt, wg), ~8 MB of RSS.
import { RawNetlinkSocket } from 'netlink/dist/raw.js';
import { Protocol } from 'netlink/dist/constants.js';
import type { Logger } from 'pino';
import type { Clock } from '../core/types.js';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import { buildNflogConfigMessages, buildNflogTimeoutMessage, buildNflogUnbindMessage } from './nflog-requests.js';
import { FlushTimeoutPolicy, NFLOG_BUFFER_BYTES, NFLOG_QUEUE_THRESHOLD } from './nflog-batching.js';
import {
  NflogDecoder,
  type NetlinkControlKind,
  type NflogBatchHandler,
  type NflogRejectReason,
} from '../decode/nflog.js';
import { InterfaceNames } from './nflog-interfaces.js';
import { errnoName, nflogRequestError } from './nflog-errors.js';
import type { KnockSource, SourceSink } from './types.js';

/** The part of the netlink package's RawNetlinkSocket this source uses; tests substitute a fake. */
export interface NflogSocket {
  on(event: 'message' | 'truncatedMessage', listener: (msg: Buffer) => void): unknown;
  on(event: 'error', listener: (error: Error & { code?: string; errno?: number }) => void): unknown;
  send(msg: Uint8Array, options?: undefined, callback?: (error?: Error & { code?: string; errno?: number }) => void): void;
  close(): void;
  getRecvBufferSize(): number;
}

export interface NflogSourceOptions {
  group: number;
  /** NFLOG prefix of our rules, compared exactly (`--nflog-prefix portknock`). */
  prefix: string;
  sink: SourceSink;
  clock: Clock;
  /** SO_RCVBUF to ask for; the kernel caps it at net.core.rmem_max (and reports double). Default 8 MiB. */
  receiveBufferBytes?: number;
  log?: Pick<Logger, 'debug' | 'info' | 'warn'>;
  /** How long to wait for the kernel to ACK each config request; default 5 s. */
  replyTimeoutMs?: number;
  /** For tests: where interface indexes are read (default /sys/class/net). */
  sysClassNet?: string;
  /** For tests: where bound NFLOG groups are listed (default /proc/net/netfilter/nfnetlink_log). */
  procNfnetlinkLog?: string;
  /** For tests: the socket to use instead of a real NETLINK_NETFILTER socket. */
  openSocket?: (receiveBufferBytes: number) => NflogSocket;
}

/** Enough for an IPv6 header, ~70 bytes of extension headers and the TCP flags byte. */
export const NFLOG_COPY_RANGE = 128;
const DEFAULT_RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024;

interface PendingRequest {
  resolve(): void;
  reject(error: NfknockError): void;
  timer: NodeJS.Timeout;
  what: string;
}

/**
 * Reads knocks from an NFLOG group over NETLINK_NETFILTER. The kernel delivers a group's packets to
 * the one socket that bound it (unicast), so a second reader cannot silently share or steal them:
 * binding fails, and start() says which process holds the group.
 */
export class NflogSource implements KnockSource {
  private readonly options: NflogSourceOptions;
  private readonly interfaces: InterfaceNames;
  private socket: NflogSocket | undefined;
  private readonly pending = new Map<number, PendingRequest>();
  private nextSequence = 1;
  private closed = false;
  private closing: Promise<void> | undefined;
  private receivedAt = 0;
  /** Batching (see nflog-batching.ts): knock times come from NFULA_TIMESTAMP, else from our receive time, which batching delays by at most the timeout. */
  private flushPolicy: FlushTimeoutPolicy | undefined;
  private batchEvents = 0;
  private readonly handler: NflogBatchHandler;
  private readonly decoder: NflogDecoder;
  /** SO_RCVBUF as the kernel reports it after start(). */
  receiveBufferBytes = 0;

  constructor(options: NflogSourceOptions) {
    this.options = options;
    this.interfaces = new InterfaceNames(options.clock, options.sysClassNet);
    // The sink is done with an event when it returns (SourceSink): one object serves every packet.
    this.decoder = new NflogDecoder({ prefix: options.prefix, interfaceName: (ifindex) => this.interfaces.nameOf(ifindex), reuseEvent: true });
    this.handler = {
      event: (event) => {
        this.batchEvents++;
        options.sink.event(event);
      },
      reject: (reason, errno, sequence) => this.rejected(reason, errno, sequence),
      control: (kind, sequence) => this.controlled(kind, sequence),
    };
  }

  async start(): Promise<void> {
    const { group } = this.options;
    const wanted = this.options.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES;
    let socket: NflogSocket;
    try {
      socket = (this.options.openSocket ?? openNetfilterSocket)(wanted);
    } catch (error) {
      throw new NfknockError(ErrorCodes.SOURCE_UNAVAILABLE, `cannot open a NETLINK_NETFILTER socket for NFLOG group ${group}: ${describe(error)}`, {
        cause: error,
      });
    }
    this.socket = socket;
    // An exception escaping these handlers would unwind into the netlink binding's C++ poll handler
    // and abort the process (seen under a flood: "Napi::Error ... Error in native callback").
    socket.on('message', (msg) => this.receiveSafely(msg));
    socket.on('truncatedMessage', (msg) => {
      this.options.log?.warn({ bytes: msg.length }, 'nflog: a netlink message was larger than the receive buffer and was cut');
      this.receiveSafely(msg);
    });
    socket.on('error', (error) => this.socketError(error));
    this.receiveBufferBytes = socket.getRecvBufferSize();
    this.options.log?.info({ group, requested: wanted, obtained: this.receiveBufferBytes }, 'nflog: socket receive buffer');

    const flushPolicy = new FlushTimeoutPolicy(this.options.clock.now());
    const messages = buildNflogConfigMessages({
      group,
      copyRange: NFLOG_COPY_RANGE,
      qthreshold: NFLOG_QUEUE_THRESHOLD,
      timeoutCentiseconds: flushPolicy.timeoutCentiseconds,
      flags: 0,
      bufferBytes: NFLOG_BUFFER_BYTES,
      firstSequence: this.nextSequence,
    });
    this.nextSequence += messages.length;
    const steps = ['bind NFLOG group', 'set copy mode and batching of NFLOG group'];
    try {
      for (const [i, message] of messages.entries()) await this.request(message, steps[i] ?? 'configure NFLOG group');
    } catch (error) {
      await this.shutdown(false);
      throw error;
    }
    this.flushPolicy = flushPolicy;
    this.options.log?.info({ group, prefix: this.options.prefix }, 'nflog: listening');
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown(true);
    return this.closing;
  }

  private async shutdown(unbind: boolean): Promise<void> {
    const socket = this.socket;
    if (socket && unbind && !this.closed) {
      // The kernel also frees the group when the socket closes; unbinding first makes that explicit.
      const sequence = this.nextSequence++;
      await this.request(buildNflogUnbindMessage(this.options.group, sequence), 'unbind NFLOG group', 1000).catch((error: unknown) =>
        this.options.log?.debug({ error: describe(error) }, 'nflog: unbind was not acknowledged'),
      );
    }
    this.closed = true;
    for (const request of this.pending.values()) {
      clearTimeout(request.timer);
      request.reject(new NfknockError(ErrorCodes.SOURCE_FAILED, `NFLOG source closed while waiting to ${request.what}`));
    }
    this.pending.clear();
    this.socket = undefined;
    socket?.close();
  }

  private request(message: Buffer, what: string, timeoutMs = this.options.replyTimeoutMs ?? 5000): Promise<void> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new NfknockError(ErrorCodes.SOURCE_FAILED, `cannot ${what}: socket is closed`));
    const sequence = hostSequence(message);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(sequence);
        reject(new NfknockError(ErrorCodes.SOURCE_FAILED, `the kernel did not answer the request to ${what} ${this.options.group} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(sequence, { resolve, reject, timer, what });
      socket.send(message, undefined, (error) => {
        if (error === undefined) return;
        const waiting = this.pending.get(sequence);
        if (!waiting) return;
        clearTimeout(waiting.timer);
        this.pending.delete(sequence);
        waiting.reject(this.requestError(what, error.errno ?? 0, error));
      });
    });
  }

  private requestError(what: string, errno: number, cause?: unknown): NfknockError {
    return nflogRequestError(this.options.group, what, errno, this.options.procNfnetlinkLog, cause);
  }

  private receive(msg: Buffer): void {
    if (this.closed) return;
    this.receivedAt = this.options.clock.now();
    this.batchEvents = 0;
    this.decoder.decode(msg, this.receivedAt, this.handler);
    const timeout = this.flushPolicy?.observe(this.receivedAt, this.batchEvents);
    if (timeout !== undefined) this.setFlushTimeout(timeout);
  }

  private setFlushTimeout(timeoutCentiseconds: number): void {
    const { group } = this.options;
    const log = this.options.log;
    this.request(buildNflogTimeoutMessage(group, timeoutCentiseconds, this.nextSequence++), 'change the flush timeout of NFLOG group').then(
      () => log?.debug({ group, timeoutMs: timeoutCentiseconds * 10 }, 'nflog: batch flush timeout changed'),
      (error: unknown) => {
        this.flushPolicy?.refused(timeoutCentiseconds);
        if (!this.closed) log?.warn({ group, error: describe(error) }, 'nflog: could not change the batch flush timeout');
      },
    );
  }

  private rejected(reason: NflogRejectReason, errno: number, sequence: number): void {
    if (reason === 'nlmsg-error') {
      const waiting = this.pending.get(sequence);
      if (waiting) {
        clearTimeout(waiting.timer);
        this.pending.delete(sequence);
        waiting.reject(this.requestError(waiting.what, errno));
        return;
      }
      this.options.sink.reject(reason, errnoName(errno));
      return;
    }
    this.options.sink.reject(reason);
  }

  private controlled(kind: NetlinkControlKind, sequence: number): void {
    if (kind === 'ack') {
      const waiting = this.pending.get(sequence);
      if (!waiting) return;
      clearTimeout(waiting.timer);
      this.pending.delete(sequence);
      waiting.resolve();
    } else if (kind === 'overrun') {
      this.options.sink.overrun('nflog');
    }
    // 'done' ends each kernel batch and 'noop' carries nothing: neither is input to count.
  }

  private receiveSafely(msg: Buffer): void {
    try {
      this.receive(msg);
    } catch (error) {
      try {
        this.options.sink.trouble(new NfknockError(ErrorCodes.SOURCE_FAILED, `nflog: handling a netlink message failed: ${describe(error)}`, { cause: error }));
      } catch {
        // Nothing may escape into the binding, not even a failing sink.
      }
    }
  }

  private socketError(error: Error & { code?: string; errno?: number }): void {
    if (this.closed) return;
    if (error.code === 'ENOBUFS') {
      // The kernel dropped messages because our receive buffer was full; the socket stays usable.
      this.options.log?.warn({ group: this.options.group, receiveBufferBytes: this.receiveBufferBytes }, 'nflog: kernel dropped log messages (ENOBUFS)');
      this.options.sink.overrun('nflog');
      return;
    }
    // Any other error leaves the socket in an unknown state (the netlink package may already have
    // closed it): report the source as failed so the daemon opens a fresh one.
    const failure = new NfknockError(ErrorCodes.SOURCE_FAILED, `NFLOG socket error: ${describe(error)}`, { cause: error });
    const { sink } = this.options;
    if (sink.failed) sink.failed(failure);
    else sink.trouble(failure);
  }
}

function openNetfilterSocket(receiveBufferBytes: number): NflogSocket {
  // Peeking sizes each read to the message, so a kernel batch is never cut however large it grows.
  return new RawNetlinkSocket(Protocol.NETFILTER, { recvBufferSize: receiveBufferBytes, sendBufferSize: 0, messagePeeking: true });
}

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
function hostSequence(message: Buffer): number {
  return hostIsLittleEndian ? message.readUInt32LE(8) : message.readUInt32BE(8);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
