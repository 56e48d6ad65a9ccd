import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseLogLine } from '../src/decode/log-line.js';
import { realLines } from './helpers/logline-fixtures.js';

function accept(line: string, prefix = 'portknock') {
  const decoded = parseLogLine(line, prefix);
  assert.ok(decoded.ok, `expected an event, got ${decoded.ok ? '' : decoded.reason}`);
  return decoded.value;
}

function rejectReason(line: string, prefix = 'portknock'): string {
  const decoded = parseLogLine(line, prefix);
  assert.equal(decoded.ok, false, `expected a rejection of ${line}`);
  return decoded.ok ? '' : decoded.reason;
}

describe('parseLogLine on real kernel LOG lines', () => {
  it('decodes an IPv4 TCP SYN with a "portknock: " prefix', () => {
    assert.deepEqual(accept(realLines.tcpSynColonSpace), {
      source: '10.77.0.2',
      family: 4,
      destination: '10.77.0.1',
      protocol: 'tcp',
      port: 7000,
      tcpFlags: 0x02,
      inInterface: 'nfkc1',
    });
  });

  it('decodes UDP (two LEN fields, no flags) with a "portknock " prefix', () => {
    const event = accept(realLines.udpSpace);
    assert.equal(event.protocol, 'udp');
    assert.equal(event.port, 7001);
    assert.equal(event.tcpFlags, 0);
  });

  it('decodes --log-tcp-sequence --log-tcp-options --log-ip-options --log-uid with a "portknock:" prefix', () => {
    const event = accept(realLines.tcpAllOptionsColon);
    assert.equal(event.port, 7002);
    assert.equal(event.tcpFlags, 0x02, 'ACK=0 of --log-tcp-sequence is a field, not the ACK flag');
  });

  it('canonicalises the kernel\'s full-form IPv6 addresses', () => {
    const event = accept(realLines.tcp6);
    assert.equal(event.source, 'fd00:77::2');
    assert.equal(event.destination, 'fd00:77::1');
    assert.equal(event.family, 6);
    assert.equal(accept(realLines.tcp6SeqOptions).port, 7002);
    assert.equal(accept(realLines.udp6MacDecode).protocol, 'udp');
  });

  it('leaves inInterface out for packets logged in OUTPUT (IN= empty)', () => {
    const event = accept(realLines.outputWithUid);
    assert.equal(event.inInterface, undefined);
    assert.equal('inInterface' in event, false);
  });

  it('maps every flag word to its bit of TCP header byte 13', () => {
    assert.equal(accept(realLines.tcpManyFlags).tcpFlags, 0x80 | 0x40 | 0x20 | 0x10 | 0x08 | 0x02 | 0x01);
    assert.equal(accept(realLines.tcpNoFlags).tcpFlags, 0);
  });

  it('decodes nftables `log` lines, which share the format', () => {
    assert.equal(accept(realLines.nftUdp).port, 7005);
    assert.equal(accept(realLines.nftFlagsAll).tcpFlags, 0x02);
  });

  it('accepts the line without its trailing space (rsyslog may strip it)', () => {
    assert.equal(accept(realLines.tcpSynColonSpace.trimEnd()).port, 7000);
  });
});

describe('parseLogLine rejections', () => {
  it('rejects ICMP', () => assert.equal(rejectReason(realLines.icmpEcho), 'icmp'));

  it('anchors the prefix at the start of the message', () => {
    assert.equal(rejectReason(`audit: ${realLines.udpSpace}`), 'prefix-mismatch');
    assert.equal(rejectReason(realLines.udpSpace.replace('portknock ', 'portknock2 ')), 'prefix-mismatch');
    assert.equal(rejectReason(realLines.udpSpace.replace('portknock ', 'portknock  ')), 'prefix-mismatch');
    assert.equal(rejectReason(realLines.udpSpace, 'otherprefix'), 'prefix-mismatch');
    assert.equal(rejectReason(realLines.udpSpace, ''), 'empty-prefix');
  });

  it('accepts a configured prefix that already ends with its separator', () => {
    assert.equal(accept(realLines.tcpSynColonSpace, 'portknock: ').port, 7000);
    assert.equal(accept(realLines.tcpSynColonSpace, 'portknock:').port, 7000);
  });

  it('rejects lines cut before the fields that close the TCP and UDP parts', () => {
    const tcp = realLines.tcpSynColonSpace;
    assert.equal(rejectReason(tcp.slice(0, tcp.indexOf('URGP=') + 3)), 'incomplete:URGP');
    assert.equal(rejectReason(tcp.slice(0, tcp.indexOf('DPT=') + 6)), 'incomplete:URGP');
    assert.equal(rejectReason(tcp.slice(0, tcp.indexOf('PROTO='))), 'missing-field:PROTO');
    const udp = realLines.udpSpace;
    assert.equal(rejectReason(udp.slice(0, udp.lastIndexOf('LEN=') + 2)), 'incomplete:LEN');
  });

  it('rejects fragments, truncated headers and nested packets', () => {
    const frag = realLines.udpSpace.replace('ID=38117 ', 'ID=38117 MF FRAG:185 ');
    assert.equal(rejectReason(frag), 'fragment');
    const frag6 = realLines.tcp6.replace('FLOWLBL=427363 ', 'FLOWLBL=427363 FRAG:1448 ID:8f2c7a21 ');
    assert.equal(rejectReason(frag6), 'fragment');
    const opt6 = realLines.tcp6.replace('FLOWLBL=427363 ', 'FLOWLBL=427363 OPT ( FRAG:0 INCOMPLETE ID:8f2c7a21 ) ');
    assert.equal(rejectReason(opt6), 'fragment');
    assert.equal(rejectReason(realLines.udpSpace.replace('SPT=1766 DPT=7001 LEN=8 ', 'INCOMPLETE [4 bytes] ')), 'truncated');
    assert.equal(rejectReason(realLines.tcpAllOptionsColon.replace(/OPT \(.*$/, 'OPT (TRUNCATED)')), 'truncated');
    assert.equal(rejectReason(realLines.tcpAllOptionsColon.replace(/\) $/, '')), 'truncated');
    assert.equal(rejectReason(realLines.udpSpace.replace('PROTO=UDP', '[SRC=1.2.3.4] PROTO=UDP')), 'nested-packet');
  });

  it('rejects missing or malformed fields', () => {
    assert.equal(rejectReason(realLines.udpSpace.replace('SRC=10.77.0.2 ', '')), 'missing-field:SRC');
    assert.equal(rejectReason(realLines.udpSpace.replace('DST=10.77.0.1 ', '')), 'missing-field:DST');
    assert.equal(rejectReason(realLines.udpSpace.replace('DPT=7001 ', '')), 'missing-field:DPT');
    assert.equal(rejectReason(realLines.udpSpace.replace('DPT=7001', 'DPT=65536')), 'bad-port:DPT');
    assert.equal(rejectReason(realLines.udpSpace.replace('DPT=7001', 'DPT=0')), 'bad-port:DPT');
    assert.equal(rejectReason(realLines.udpSpace.replace('DPT=7001', 'DPT=07001')), 'bad-port:DPT');
    assert.equal(rejectReason(realLines.udpSpace.replace('SPT=1766', 'SPT=-1')), 'bad-port:SPT');
    assert.equal(rejectReason(realLines.udpSpace.replace('SRC=10.77.0.2', 'SRC=10.77.0.256')), 'bad-address:SRC');
    assert.equal(rejectReason(realLines.udpSpace.replace('DST=10.77.0.1', 'DST=fd00::1')), 'family-mismatch');
    assert.equal(rejectReason(realLines.udpSpace.replace('PROTO=UDP', 'PROTO=UDPLITE')), 'unsupported-protocol');
    assert.equal(rejectReason(realLines.udpSpace.replace('PROTO=UDP', 'PROTO=UDP SYN')), 'tcp-flags-on-udp');
    assert.equal(rejectReason(realLines.udpSpace.replace('OUT=', 'out=')), 'malformed-field');
    assert.equal(rejectReason(realLines.udpSpace.replace('OUT=', 'OUT=\tx')), 'bad-character');
    assert.equal(rejectReason(realLines.udpSpace.replace('OUT=', 'OUT=\\x0a')), 'bad-character');
    assert.equal(rejectReason(`${realLines.udpSpace}${'X=1 '.repeat(2000)}`), 'too-long');
  });

  it('rejects a field repeated with a different value, accepts an identical repeat', () => {
    assert.equal(rejectReason(realLines.udpSpace.replace('LEN=8', 'LEN=8 DPT=22')), 'duplicate-field:DPT');
    assert.equal(rejectReason(realLines.udpSpace.replace('LEN=8', 'LEN=8 SRC=10.0.0.9')), 'duplicate-field:SRC');
    assert.equal(rejectReason(realLines.udpSpace.replace('LEN=8', 'LEN=8 LEN=9')), 'duplicate-field:LEN');
    assert.equal(accept(realLines.udpSpace.replace('LEN=8', 'LEN=8 DPT=7001')).port, 7001);
  });

  it('ignores words it does not know and fields it does not use', () => {
    const line = realLines.tcpSynColonSpace.replace('URGP=0', 'URGP=0 MARK=0x2a PHYSIN=br0 NEWFLAG');
    assert.equal(accept(line).port, 7000);
  });
});
