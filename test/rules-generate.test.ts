import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateRules, knockMarks, type RulesOptions } from '../src/rules/generate.js';
import { NfknockError } from '../src/core/errors.js';
import { TcpFlag } from '../src/core/types.js';
import { config, door, steps } from './helpers/doors.js';

const base: RulesOptions = { target: 'nflog', group: 5, prefix: 'portknock', family: 4, complete: false, format: 'iptables' };
const synNotAck = { required: TcpFlag.SYN, forbidden: TcpFlag.ACK };
const small = config([door({ steps: steps('7000', '8000:udp', '9000'), tcpFlags: synNotAck })]);

function body(text: string): string[] {
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('#') && !line.trimStart().startsWith('#'));
}

test('an iptables fragment creates or empties its own chain and marks each knock port with NFLOG', () => {
  assert.deepEqual(body(generateRules(small, base)), [
    '*filter',
    ':NFKNOCK - [0:0]',
    '-A NFKNOCK -p tcp -m tcp --dport 7000 --tcp-flags SYN,ACK SYN -j NFLOG --nflog-prefix portknock --nflog-group 5 --nflog-size 128',
    '-A NFKNOCK -p tcp -m tcp --dport 9000 --tcp-flags SYN,ACK SYN -j NFLOG --nflog-prefix portknock --nflog-group 5 --nflog-size 128',
    '-A NFKNOCK -p udp -m udp --dport 8000 -j NFLOG --nflog-prefix portknock --nflog-group 5 --nflog-size 128',
    'COMMIT',
  ]);
});

test('the fragment tells how to hook it into INPUT once, since iptables-restore cannot', () => {
  const text = generateRules(small, { ...base, family: 6 });
  assert.match(text, /^# +ip6tables-restore --noflush < THIS_FILE$/m);
  assert.match(text, /^# +ip6tables -C INPUT -j NFKNOCK 2>\/dev\/null \|\| ip6tables -I INPUT 1 -j NFKNOCK$/m);
  assert.doesNotMatch(text, /^-[AI] INPUT/m, 'a jump inside the file would be added again on every reload');
});

test('LOG rules carry the prefix with a separating space; NFLOG rules never accept or drop', () => {
  const log = body(generateRules(small, { ...base, target: 'log', family: 6 }));
  assert.equal(log[2], '-A NFKNOCK -p tcp -m tcp --dport 7000 --tcp-flags SYN,ACK SYN -j LOG --log-prefix "portknock "');
  const all = generateRules(small, { ...base, complete: true });
  assert.ok(knockLinesOnly(all).every((line) => !/-j (ACCEPT|DROP|REJECT)/.test(line)));
});

function knockLinesOnly(text: string): string[] {
  return text.split('\n').filter((line) => line.startsWith('-A NFKNOCK'));
}

test('tcp flags: mask is required|forbidden, comparison the required bits; NONE when only forbidden', () => {
  const onlyForbidden = config([door({ steps: steps('7000'), tcpFlags: { required: 0, forbidden: TcpFlag.ACK | TcpFlag.RST } })]);
  assert.match(generateRules(onlyForbidden, base), /--dport 7000 --tcp-flags RST,ACK NONE -j/);
  const finPsh = config([door({ steps: steps('7000'), tcpFlags: { required: TcpFlag.FIN | TcpFlag.PSH, forbidden: TcpFlag.SYN } })]);
  assert.match(generateRules(finPsh, base), /--tcp-flags FIN,SYN,PSH FIN,PSH -j/);
  assert.match(generateRules(finPsh, { ...base, format: 'nft' }), /tcp dport 7000 tcp flags & \(fin \| syn \| psh\) == fin \| psh log/);
  assert.match(generateRules(onlyForbidden, { ...base, format: 'nft' }), /tcp flags & \(rst \| ack\) == 0 log/);
});

test('ports shared by doors are marked once, with only the flag bits every door tests', () => {
  const shared = config([
    door({ name: 'a', steps: steps('7000', '7001'), tcpFlags: synNotAck }),
    door({ name: 'b', steps: steps('7000', '7002:udp'), tcpFlags: { required: TcpFlag.SYN, forbidden: 0 } }),
    door({ name: 'c', steps: steps('7002:udp', '7003') }),
  ]);
  assert.deepEqual(knockLinesOnly(generateRules(shared, base)), [
    '-A NFKNOCK -p tcp -m tcp --dport 7000 --tcp-flags SYN SYN -j NFLOG --nflog-prefix portknock --nflog-group 5 --nflog-size 128',
    '-A NFKNOCK -p tcp -m tcp --dport 7001 --tcp-flags SYN,ACK SYN -j NFLOG --nflog-prefix portknock --nflog-group 5 --nflog-size 128',
    '-A NFKNOCK -p tcp -m tcp --dport 7003 -j NFLOG --nflog-prefix portknock --nflog-group 5 --nflog-size 128',
    '-A NFKNOCK -p udp -m udp --dport 7002 -j NFLOG --nflog-prefix portknock --nflog-group 5 --nflog-size 128',
  ]);
  assert.match(generateRules(shared, base), /^# 7002\/udp: b, c$/m);
});

test('time-based doors mark their whole range; a fixed door inside it adds no second rule', () => {
  const timed = config([
    door({ name: 'rotating', steps: [], timeSequence: { length: 4, portMin: 40000, portMax: 40999, periodSeconds: 30, protocols: 'tcp' } }),
    door({ name: 'fixed', steps: steps('40500'), tcpFlags: synNotAck }),
  ]);
  assert.deepEqual(
    knockLinesOnly(generateRules(timed, base)).map((line) => line.replace(/ -j NFLOG.*/, '')),
    ['-A NFKNOCK -p tcp -m tcp --dport 40000:40999'],
    'the range already logs every packet to 40500: a second rule would log it twice',
  );
  const mixed = config([door({ steps: [], timeSequence: { length: 3, portMin: 100, portMax: 200, periodSeconds: 60, protocols: 'mixed' } })]);
  assert.match(generateRules(mixed, { ...base, format: 'nft' }), /tcp dport 100-200 log .*\n.*\n\t\tudp dport 100-200 log/);
});

test('one-time doors mark the ports of their unused sequences', () => {
  const oneTime = config([door({ name: 'once', steps: [], oneTimeFile: '/etc/knock/once' })]);
  const oneTimeSteps = new Map([['once', steps('1111', '2222:udp', '3333')]]);
  assert.deepEqual(
    knockMarks(oneTime, oneTimeSteps).map((mark) => `${mark.from}/${mark.protocol}`),
    ['1111/tcp', '3333/tcp', '2222/udp'],
  );
  assert.match(generateRules(oneTime, { ...base, oneTimeSteps }), /--dport 2222 -j NFLOG/);
});

test('nft fragment: its own table, replaced atomically, logging before the usual filter chains', () => {
  assert.deepEqual(body(generateRules(small, { ...base, format: 'nft' })), [
    'table inet nfknock',
    'delete table inet nfknock',
    'table inet nfknock {',
    '\tset open4 { type ipv4_addr . inet_proto . inet_service; flags interval,timeout; }',
    '\tset open6 { type ipv6_addr . inet_proto . inet_service; flags interval,timeout; }',
    '\tchain knock {',
    '\t\ttype filter hook input priority filter - 1; policy accept;',
    '\t\ttcp dport 7000 tcp flags & (syn | ack) == syn log prefix "portknock" group 5 snaplen 128',
    '\t\ttcp dport 9000 tcp flags & (syn | ack) == syn log prefix "portknock" group 5 snaplen 128',
    '\t\tudp dport 8000 log prefix "portknock" group 5 snaplen 128',
    '\t\tip saddr . meta l4proto . th dport @open4 accept',
    '\t\tip6 saddr . meta l4proto . th dport @open6 accept',
    '\t}',
    '}',
  ]);
  assert.match(generateRules(small, { ...base, format: 'nft', target: 'log' }), /udp dport 8000 log prefix "portknock "\n/);
});

test('complete iptables table: default deny, knock chain before the INVALID drop, policy (not REJECT) last', () => {
  const lines = body(generateRules(small, { ...base, complete: true, servicePorts: [{ protocol: 'tcp', port: 443 }] }));
  for (const expected of [':INPUT DROP [0:0]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]', '-A INPUT -i lo -j ACCEPT']) {
    assert.ok(lines.includes(expected), expected);
  }
  const at = (line: string) => lines.indexOf(line);
  assert.ok(at('-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT') < at('-A INPUT -j NFKNOCK'));
  assert.ok(at('-A INPUT -j NFKNOCK') < at('-A INPUT -m conntrack --ctstate INVALID -j DROP'));
  assert.ok(lines.includes('-A INPUT -p tcp -m tcp --dport 443 -j ACCEPT'));
  assert.ok(!lines.some((line) => /^-A INPUT .*-j (REJECT|DROP)$/.test(line) && !line.includes('INVALID')), 'no final drop rule');
  assert.ok(lines.includes('-A INPUT -p icmp -m icmp --icmp-type 3 -j ACCEPT'), 'path MTU discovery');
});

test('complete ip6tables table keeps neighbour discovery ahead of the INVALID drop', () => {
  const lines = body(generateRules(small, { ...base, complete: true, family: 6 }));
  const invalid = lines.indexOf('-A INPUT -m conntrack --ctstate INVALID -j DROP');
  for (const type of [134, 135, 136]) {
    const line = `-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type ${type} -m hl --hl-eq 255 -j ACCEPT`;
    assert.ok(lines.includes(line) && lines.indexOf(line) < invalid, line);
  }
  assert.ok(lines.includes('-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 2 -j ACCEPT'), 'packet-too-big');
});

test('complete nft ruleset: one table, drop policy, doors open through the open4/open6 sets', () => {
  const text = generateRules(small, { ...base, complete: true, format: 'nft' });
  assert.match(text, /type filter hook input priority filter; policy drop;/);
  assert.match(text, /type filter hook forward priority filter; policy drop;/);
  assert.match(text, /ip saddr \. meta l4proto \. th dport @open4 accept/);
  assert.match(text, /#   start_command = nft add element inet nfknock open4 \{ %IP% \. tcp \. 22 \}/);
  assert.ok(text.indexOf('jump knock') < text.indexOf('ct state invalid drop'));
});

test('flood guard: a per-source hashlimit on each mark; IPv6 sources counted per /64', () => {
  const floodGuard = { perSourcePerSecond: 20, burst: 40 };
  assert.deepEqual(knockLinesOnly(generateRules(small, { ...base, floodGuard, family: 6 }))[0],
    '-A NFKNOCK -p tcp -m tcp --dport 7000 --tcp-flags SYN,ACK SYN -m hashlimit --hashlimit-upto 20/sec --hashlimit-burst 40' +
      ' --hashlimit-mode srcip --hashlimit-name nfknock --hashlimit-htable-size 4096 --hashlimit-htable-max 65536' +
      ' --hashlimit-htable-expire 10000 --hashlimit-srcmask 64 -j NFLOG --nflog-prefix portknock --nflog-group 5 --nflog-size 128');
  assert.doesNotMatch(generateRules(small, { ...base, floodGuard }), /srcmask/);
  const nft = generateRules(small, { ...base, floodGuard, format: 'nft' });
  assert.match(nft, /\t\tudp dport 8000 jump knock_log\n/);
  assert.match(nft, /update @flood6 \{ ip6 saddr & ffff:ffff:ffff:ffff:: limit rate 20\/second burst 40 packets \} log prefix "portknock" group 5 snaplen 128/);
});

function rejects(run: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof NfknockError);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

test('bad options and doors are refused with a clear reason', () => {
  rejects(() => generateRules(small, { ...base, target: 'log', prefix: 'p'.repeat(29) }), 'NFK_USAGE', /too long: LOG keeps 29/);
  assert.doesNotThrow(() => generateRules(small, { ...base, target: 'log', prefix: 'p'.repeat(28) }));
  rejects(() => generateRules(small, { ...base, prefix: 'p'.repeat(64) }), 'NFK_USAGE', /too long: NFLOG keeps 63/);
  assert.doesNotThrow(() => generateRules(small, { ...base, prefix: 'p'.repeat(63) }));
  rejects(() => generateRules(small, { ...base, prefix: 'port"knock' }), 'NFK_USAGE', /contains "\\""/);
  rejects(() => generateRules(small, { ...base, prefix: 'port\nknock' }), 'NFK_USAGE', /contains "\\n"/);
  rejects(() => generateRules(small, { ...base, prefix: 'port knock' }), 'NFK_USAGE', /blanks/);
  rejects(() => generateRules(small, { ...base, prefix: '' }), 'NFK_USAGE', /empty/);
  rejects(() => generateRules(small, { ...base, group: 65536 }), 'NFK_USAGE', /group 65536 is outside 0-65535/);
  rejects(() => generateRules(small, { ...base, group: -1 }), 'NFK_USAGE', /outside 0-65535/);
  assert.doesNotThrow(() => generateRules(small, { ...base, target: 'log', group: 99999 }), 'LOG has no group');
  rejects(() => generateRules(small, { ...base, floodGuard: { perSourcePerSecond: 0, burst: 5 } }), 'NFK_USAGE', /rate 0/);
  rejects(() => generateRules(small, { ...base, servicePorts: [{ protocol: 'tcp', port: 80 }] }), 'NFK_USAGE', /--complete/);
  rejects(() => generateRules(config([]), base), 'NFK_CONFIG_INVALID', /no doors/);
  rejects(() => generateRules(config([door({ steps: [] })]), base), 'NFK_CONFIG_INVALID', /\[openSSH\] has no port to mark/);
  rejects(
    () => generateRules(config([door({ steps: [], oneTimeFile: '/etc/knock/once', line: 12 })]), base),
    'NFK_CONFIG_INVALID',
    /one-time sequences file \/etc\/knock\/once gave no unused sequence/,
  );
  rejects(() => generateRules(config([door({ steps: steps('0') })]), base), 'NFK_CONFIG_INVALID', /port 0, outside 1-65535/);
  try {
    generateRules(config([door({ steps: [], line: 12 })], '/etc/knockd.conf'), base);
  } catch (error) {
    assert.ok(error instanceof NfknockError);
    assert.equal(error.describe(), '/etc/knockd.conf:12: door [openSSH] has no port to mark: it has no sequence');
  }
});

test('the output does not depend on the order doors are written in', () => {
  const a = door({ name: 'a', steps: steps('7000', '8000:udp') });
  const b = door({ name: 'b', steps: steps('6000', '8000:udp') });
  assert.equal(generateRules(config([a, b]), base), generateRules(config([b, a]), base));
});
