import fc from 'fast-check';

/**
 * Real netfilter LOG lines, copied from /dev/kmsg on Linux 6.18 (iptables/ip6tables/nft rules in a
 * network namespace with net.netfilter.nf_log_all_netns=1). Note the trailing space the kernel writes.
 */
export const realLines = {
  tcpSynColonSpace:
    'portknock: IN=nfkc1 OUT= MAC=22:64:54:8d:c7:3d:3e:21:d2:5a:df:d9:08:00 SRC=10.77.0.2 DST=10.77.0.1 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=12211 PROTO=TCP SPT=5555 DPT=7000 WINDOW=512 RES=0x00 SYN URGP=0 ',
  udpSpace:
    'portknock IN=nfkc1 OUT= MAC=22:64:54:8d:c7:3d:3e:21:d2:5a:df:d9:08:00 SRC=10.77.0.2 DST=10.77.0.1 LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=38117 PROTO=UDP SPT=1766 DPT=7001 LEN=8 ',
  tcpAllOptionsColon:
    'portknock:IN=nfkc1 OUT= MAC=22:64:54:8d:c7:3d:3e:21:d2:5a:df:d9:08:00 SRC=10.77.0.2 DST=10.77.0.1 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=23131 DF PROTO=TCP SPT=44820 DPT=7002 SEQ=1932041832 ACK=0 WINDOW=64240 RES=0x00 SYN URGP=0 OPT (020405B40402080A40859528000000000103030A) ',
  tcp6:
    'portknock IN=nfkc1 OUT= MAC=22:64:54:8d:c7:3d:3e:21:d2:5a:df:d9:86:dd SRC=fd00:0077:0000:0000:0000:0000:0000:0002 DST=fd00:0077:0000:0000:0000:0000:0000:0001 LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=427363 PROTO=TCP SPT=59258 DPT=7000 WINDOW=64800 RES=0x00 SYN URGP=0 ',
  udp6MacDecode:
    'portknock IN=nfkc1 OUT= MACSRC=3e:21:d2:5a:df:d9 MACDST=22:64:54:8d:c7:3d MACPROTO=86dd SRC=fd00:0077:0000:0000:0000:0000:0000:0002 DST=fd00:0077:0000:0000:0000:0000:0000:0001 LEN=50 TC=0 HOPLIMIT=64 FLOWLBL=790217 PROTO=UDP SPT=35412 DPT=7001 LEN=10 ',
  tcp6SeqOptions:
    'portknock IN=nfkc1 OUT= MAC=22:64:54:8d:c7:3d:3e:21:d2:5a:df:d9:86:dd SRC=fd00:0077:0000:0000:0000:0000:0000:0002 DST=fd00:0077:0000:0000:0000:0000:0000:0001 LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=777079 PROTO=TCP SPT=39258 DPT=7002 SEQ=3305025198 ACK=0 WINDOW=64800 RES=0x00 SYN URGP=0 OPT (020405A00402080A28E32EAF000000000103030A) ',
  outputWithUid:
    'portknock IN= OUT=nfkc1 SRC=10.77.0.1 DST=10.77.0.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=32802 DF PROTO=TCP SPT=54042 DPT=7003 WINDOW=64240 RES=0x00 SYN URGP=0 UID=0 GID=0 ',
  tcpManyFlags:
    'portknock: IN=nfkc1 OUT= MAC=22:64:54:8d:c7:3d:3e:21:d2:5a:df:d9:08:00 SRC=10.77.0.2 DST=10.77.0.1 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=52783 PROTO=TCP SPT=1423 DPT=7000 WINDOW=512 RES=0x00 CWR ECE URG ACK PSH SYN FIN URGP=0 ',
  tcpNoFlags:
    'portknock: IN=nfkc1 OUT= MAC=22:64:54:8d:c7:3d:3e:21:d2:5a:df:d9:08:00 SRC=10.77.0.2 DST=10.77.0.1 LEN=140 TOS=0x00 PREC=0x00 TTL=64 ID=124 PROTO=TCP SPT=2259 DPT=7000 WINDOW=512 RES=0x00 URGP=0 ',
  icmpEcho:
    'portknock IN=nfkc1 OUT= MAC=16:63:70:f6:4e:ff:46:2b:44:02:dc:75:08:00 SRC=10.77.0.2 DST=10.77.0.1 LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=32413 PROTO=ICMP TYPE=8 CODE=0 ID=61721 SEQ=0 ',
  nftUdp:
    'portknock IN=nfkc1 OUT= MAC=16:63:70:f6:4e:ff:46:2b:44:02:dc:75:08:00 SRC=10.77.0.2 DST=10.77.0.1 LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=32413 PROTO=UDP SPT=2781 DPT=7005 LEN=8 ',
  nftFlagsAll:
    'portknock IN=nfkc1 OUT= MACSRC=46:2b:44:02:dc:75 MACDST=16:63:70:f6:4e:ff MACPROTO=0800 SRC=10.77.0.2 DST=10.77.0.1 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=35844 PROTO=TCP SPT=2781 DPT=7005 SEQ=1394310813 ACK=2119886180 WINDOW=512 RES=0x00 SYN URGP=0 ',
} as const;

/** Real /dev/kmsg records: a kernel LOG line, and userspace writes (`echo '<0>...' > /dev/kmsg`). */
export const realKmsgRecords = {
  kernelLog: `4,358,399496465,-;${realLines.tcpManyFlags}\n`,
  userspacePlain: '12,364,408021598,-;portknock plain\n',
  userspaceClaimsEmergKernel: '8,363,408020560,-;portknock: IN=x OUT= SRC=1.2.3.4 DST=1.2.3.5 PROTO=TCP SPT=1 DPT=7000 SYN\n',
  withDictionary: '6,1205,59893412,-;usb 1-1: new high-speed USB device\n SUBSYSTEM=usb\n DEVICE=c189:1\n',
};

/** Real lines of rsyslog files; the first is from the dedicated file, the others show forgeries in a general log. */
export const realSyslogLines = {
  precise: `2026-11-22T10:39:52.036599+00:00 vm kernel: portknock IN=lo OUT= MAC=00:00:00:00:00:00:00:00:00:00:00:00:08:00 SRC=127.0.0.1 DST=127.0.0.1 LEN=30 TOS=0x00 PREC=0x00 TTL=64 ID=38812 DF PROTO=UDP SPT=47843 DPT=7010 LEN=10 `,
  loggerForged: '2026-11-22T10:39:52.690899+00:00 vm kernel: portknock: IN=loggerforged OUT=',
  traditionalWithUptime: `Nov 22 10:09:01 vm kernel: [  398.388585] ${realLines.tcpSynColonSpace}`,
};

export interface GeneratedLine {
  line: string;
  expected: {
    source: string;
    family: 4 | 6;
    destination: string;
    protocol: 'tcp' | 'udp';
    port: number;
    tcpFlags: number;
    inInterface?: string;
  };
}

const flagWords: [string, number][] = [
  ['CWR', 0x80],
  ['ECE', 0x40],
  ['URG', 0x20],
  ['ACK', 0x10],
  ['PSH', 0x08],
  ['RST', 0x04],
  ['SYN', 0x02],
  ['FIN', 0x01],
];

function fullIPv6(bytes: number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16).padStart(4, '0'));
  return groups.join(':');
}

function compressedIPv6(bytes: number[]): string {
  // Reference spelling computed independently of src/core/address.ts: URL parsing canonicalises IPv6.
  return new URL(`http://[${fullIPv6(bytes)}]/`).hostname.slice(1, -1);
}

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
const ipv6Bytes = fc
  .array(fc.oneof(fc.constant(0), fc.nat(255)), { minLength: 16, maxLength: 16 })
  // IPv4-mapped addresses have their own spelling (::ffff:a.b.c.d); address.test.ts covers them.
  .filter((b) => !(b.slice(0, 10).every((x) => x === 0) && b[10] === 255 && b[11] === 255));
const ifname = fc.stringMatching(/^[a-z][a-z0-9]{0,14}$/);
const extraField = fc
  .tuple(fc.stringMatching(/^X[A-Z0-9]{1,6}$/), fc.stringMatching(/^[A-Za-z0-9:.x-]{0,12}$/))
  .map(([k, v]) => `${k}=${v}`);

/**
 * A line as the kernel could write it, with the knock fields' expected decoding. `shuffle` mixes
 * the field order and adds extra fields (the parser must not depend on order); kernel order is kept
 * otherwise so truncations can be tested.
 */
export function logLineArbitrary(prefix: string, shuffle: boolean): fc.Arbitrary<GeneratedLine> {
  return fc
    .record({
      separator: fc.constantFrom('', ' ', ':', ': '),
      family: fc.constantFrom(4 as const, 6 as const),
      src4: ipv4,
      dst4: ipv4,
      src6: ipv6Bytes,
      dst6: ipv6Bytes,
      protocol: fc.constantFrom('tcp' as const, 'udp' as const),
      sport: fc.nat(65535),
      dport: fc.integer({ min: 1, max: 65535 }),
      flags: fc.subarray(flagWords),
      inInterface: fc.option(ifname, { nil: undefined }),
      tcpSequence: fc.boolean(),
      ipOptions: fc.option(fc.stringMatching(/^[0-9A-F]{2,16}$/), { nil: undefined }),
      uid: fc.boolean(),
      extras: shuffle ? fc.uniqueArray(extraField, { maxLength: 3, selector: (f) => f.split('=')[0] }) : fc.constant([]),
      order: fc.array(fc.nat(), { minLength: 40, maxLength: 40 }),
    })
    .map((r): GeneratedLine => {
      const src = r.family === 4 ? r.src4 : fullIPv6(r.src6);
      const dst = r.family === 4 ? r.dst4 : fullIPv6(r.dst6);
      const network: string[] =
        r.family === 4
          ? [`SRC=${src}`, `DST=${dst}`, 'LEN=60', 'TOS=0x00', 'PREC=0x00', 'TTL=64', 'ID=1', 'DF']
          : [`SRC=${src}`, `DST=${dst}`, 'LEN=80', 'TC=0', 'HOPLIMIT=64', 'FLOWLBL=0'];
      if (r.ipOptions) network.push('OPT', `(${r.ipOptions})`);
      const transport: string[] = [];
      if (r.protocol === 'tcp') {
        transport.push('PROTO=TCP', `SPT=${r.sport}`, `DPT=${r.dport}`);
        if (r.tcpSequence) transport.push('SEQ=1', 'ACK=0');
        transport.push('WINDOW=64240', 'RES=0x00', ...r.flags.map(([w]) => w), 'URGP=0');
      } else {
        transport.push('PROTO=UDP', `SPT=${r.sport}`, `DPT=${r.dport}`, 'LEN=8');
      }
      const tail = r.uid ? ['UID=0', 'GID=0'] : [];
      let fields = [`IN=${r.inInterface ?? ''}`, 'OUT=', 'MAC=', ...network, ...transport, ...tail];
      if (shuffle) {
        // OPT and its (hex) must stay adjacent: glue them while shuffling.
        // IN= stays first: the prefix rule anchors on it.
        const glued = fields.slice(1).join(' ').replace(/OPT \(/g, 'OPT\u0000(').split(' ');
        const all = [...glued, ...r.extras];
        const keyed = all.map((f, i) => ({ f, k: r.order[i % r.order.length] ?? 0, i }));
        keyed.sort((a, b) => a.k - b.k || a.i - b.i);
        fields = [fields[0] as string, ...keyed.map(({ f }) => f.replace('\u0000', ' '))];
      }
      const expected: GeneratedLine['expected'] = {
        source: r.family === 4 ? r.src4 : compressedIPv6(r.src6),
        family: r.family,
        destination: r.family === 4 ? r.dst4 : compressedIPv6(r.dst6),
        protocol: r.protocol,
        port: r.dport,
        tcpFlags: r.protocol === 'tcp' ? r.flags.reduce((bits, [, bit]) => bits | bit, 0) : 0,
      };
      if (r.inInterface !== undefined) expected.inInterface = r.inInterface;
      return { line: `${prefix}${r.separator}${fields.join(' ')} `, expected };
    });
}
