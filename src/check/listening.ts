import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import type { Protocol } from '../core/types.js';
import type { ListeningFacts } from './check.js';

export interface ProcNetSocket {
  protocol: Protocol;
  port: number;
  /** True when bound to 127.0.0.0/8 or ::1 only: not reachable from other hosts. */
  loopbackOnly: boolean;
}

const TCP_LISTEN = '0A';

/**
 * One /proc/net/{tcp,tcp6,udp,udp6} table: TCP sockets in LISTEN, UDP sockets with no remote peer.
 * Addresses are 32-bit words in host byte order, the port is big-endian hex. Malformed lines are skipped.
 */
export function parseProcNet(text: string, protocol: Protocol, hostEndianness: 'LE' | 'BE' = 'LE'): ProcNetSocket[] {
  const sockets: ProcNetSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    const remote = fields[2];
    const state = fields[3];
    if (local === undefined || remote === undefined || state === undefined) continue;
    const [localHex, portHex] = local.split(':');
    const [remoteHex] = remote.split(':');
    if (!localHex || !portHex || !remoteHex || !/^[0-9A-Fa-f]{4}$/.test(portHex) || !/^([0-9A-Fa-f]{8}){1,4}$/.test(localHex)) continue;
    if (protocol === 'tcp' ? state.toUpperCase() !== TCP_LISTEN : !/^0+$/.test(remoteHex)) continue;
    const port = parseInt(portHex, 16);
    if (port === 0) continue;
    sockets.push({ protocol, port, loopbackOnly: isLoopback(addressBytes(localHex, hostEndianness)) });
  }
  return sockets;
}

function addressBytes(hex: string, hostEndianness: 'LE' | 'BE'): number[] {
  const bytes: number[] = [];
  for (let word = 0; word < hex.length; word += 8) {
    const wordBytes = [0, 2, 4, 6].map((i) => parseInt(hex.slice(word + i, word + i + 2), 16));
    bytes.push(...(hostEndianness === 'LE' ? wordBytes.reverse() : wordBytes));
  }
  return bytes;
}

function isLoopback(bytes: number[]): boolean {
  if (bytes.length === 4) return bytes[0] === 127;
  const zeros = (n: number) => bytes.slice(0, n).every((b) => b === 0);
  if (zeros(15) && bytes[15] === 1) return true; // ::1
  return zeros(10) && bytes[10] === 0xff && bytes[11] === 0xff && bytes[12] === 127; // ::ffff:127.x
}

/** Services this host offers to other hosts, from /proc (of the current network namespace). */
export async function readListening(procRoot = '/proc'): Promise<ListeningFacts> {
  const hostEndianness = endianness();
  const tables: [string, Protocol][] = [['tcp', 'tcp'], ['tcp6', 'tcp'], ['udp', 'udp'], ['udp6', 'udp']];
  const seen = new Map<string, { protocol: Protocol; port: number }>();
  for (const [name, protocol] of tables) {
    // A missing table (IPv6 disabled) has no sockets.
    const text = await readFile(`${procRoot}/net/${name}`, 'utf8').catch(() => '');
    for (const socket of parseProcNet(text, protocol, hostEndianness)) {
      if (!socket.loopbackOnly) seen.set(`${socket.port}/${protocol}`, { protocol, port: socket.port });
    }
  }
  return { listening: [...seen.values()].sort((a, b) => a.protocol.localeCompare(b.protocol) || a.port - b.port) };
}
