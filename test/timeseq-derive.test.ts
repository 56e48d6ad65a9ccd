import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import type { KnockStep, TimeSequenceSpec } from '../src/core/types.js';
import { isNfknockError } from '../src/core/errors.js';
import {
  candidateSteps,
  deriveSequence,
  hmacSha256,
  sequenceMessage,
  timeSequenceDefaults,
  timeSequenceProblem,
  timeSequenceReplayKey,
  timeStepAt,
} from '../src/timeseq/derive.js';

const bytes = (hex: string) => Buffer.from(hex, 'hex');
const repeat = (byte: number, count: number) => Buffer.alloc(count, byte);
const ascii = (text: string) => Buffer.from(text, 'ascii');

test('HMAC-SHA256 matches RFC 4231 test cases 1-7', () => {
  const cases: [Uint8Array, Uint8Array, string][] = [
    [repeat(0x0b, 20), ascii('Hi There'), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
    [ascii('Jefe'), ascii('what do ya want for nothing?'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'],
    [repeat(0xaa, 20), repeat(0xdd, 50), '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe'],
    [bytes('0102030405060708090a0b0c0d0e0f10111213141516171819'), repeat(0xcd, 50), '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b'],
    [repeat(0xaa, 131), ascii('Test Using Larger Than Block-Size Key - Hash Key First'), '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54'],
    [
      repeat(0xaa, 131),
      ascii('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'),
      '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
    ],
  ];
  for (const [key, data, expected] of cases) assert.equal(hmacSha256(key, data).toString('hex'), expected);
  // Test case 5 is truncated to 128 bits.
  assert.equal(hmacSha256(repeat(0x0c, 20), ascii('Test With Truncation')).subarray(0, 16).toString('hex'), 'a3b6167473100ee06e0c796c2955552b');
  // Feeding the message in parts (as the counter-mode blocks do) is the same as feeding it whole.
  assert.equal(hmacSha256(ascii('Jefe'), ascii('what do ya '), ascii('want for nothing?')).toString('hex'), cases[1]?.[2]);
});

test('the HMAC message is UTF-8 door name, NUL, 8-byte big-endian step', () => {
  assert.equal(sequenceMessage('ssh', 1).toString('hex'), '73736800' + '0000000000000001');
  assert.equal(sequenceMessage('é', 0x0102030405).toString('hex'), 'c3a900' + '0000000102030405');
});

/**
 * Independent re-implementation, written from the construction in derive.ts's comment: the whole
 * key stream is generated up front, then consumed with an index; ports are rejected by scanning the list.
 */
function referenceSequence(secret: Uint8Array, door: string, step: number, spec: Omit<TimeSequenceSpec, 'secret' | 'secretFile'>): KnockStep[] {
  const name = Buffer.from(door, 'utf8');
  const t = Buffer.alloc(8);
  t.writeUInt32BE(Math.floor(step / 2 ** 32), 0);
  t.writeUInt32BE(step % 2 ** 32, 4);
  const message = Buffer.concat([name, Buffer.of(0), t]);
  const blocks = [createHmac('sha256', secret).update(message).digest()];
  for (let c = 1; c < 64; c++) {
    blocks.push(createHmac('sha256', secret).update(Buffer.concat([message, Buffer.of(c >>> 24, (c >>> 16) & 255, (c >>> 8) & 255, c & 255)])).digest());
  }
  const stream = Buffer.concat(blocks);
  let at = 0;
  const n = spec.portMax - spec.portMin + 1;
  const out: KnockStep[] = [];
  while (out.length < spec.length) {
    const u = stream.readUInt16BE(at);
    at += 2;
    if (u >= 65536 - (65536 % n)) continue;
    const port = spec.portMin + (u % n);
    if (out.some((s) => s.port === port)) continue;
    let protocol: 'tcp' | 'udp' = spec.protocols === 'udp' ? 'udp' : 'tcp';
    if (spec.protocols === 'mixed') protocol = (stream[at++] ?? 0) % 2 === 1 ? 'udp' : 'tcp';
    out.push({ port, protocol });
  }
  return out;
}

const SECRET = bytes('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const spec = (overrides: Partial<TimeSequenceSpec> = {}) => ({ ...timeSequenceDefaults, secret: SECRET, ...overrides });
const ports = (steps: KnockStep[]) => steps.map((s) => `${s.port}/${s.protocol}`).join(' ');

test('frozen vectors: other implementations must produce exactly these sequences', () => {
  // Step 56666666 is 1 700 000 000 s / 30 s. Computed once with derive.ts and frozen; also cross-checked below.
  const vectors: [Partial<TimeSequenceSpec>, string, number, string][] = [
    [{}, 'ssh', 56666666, '20298/tcp 21833/tcp 25039/tcp 26274/tcp'],
    [{}, 'ssh', 56666667, '23951/tcp 24232/tcp 22316/tcp 28613/tcp'],
    [{}, 'web', 56666666, '29733/tcp 26661/tcp 25300/tcp 25092/tcp'],
    [{ protocols: 'mixed', length: 6 }, 'ssh', 0, '26414/udp 24984/tcp 22180/tcp 26165/tcp 27225/udp 21187/tcp'],
    [{ protocols: 'udp', portMin: 1, portMax: 8, length: 8 }, 'door with spaces', 12345, '4/udp 7/udp 6/udp 5/udp 8/udp 3/udp 2/udp 1/udp'],
    [{ portMin: 60000, portMax: 65535, length: 10, periodSeconds: 60 }, 'ünïcode', 2 ** 40, '61233/tcp 61478/tcp 64595/tcp 63009/tcp 64306/tcp 62097/tcp 64917/tcp 62214/tcp 64023/tcp 60401/tcp'],
  ];
  for (const [overrides, door, step, expected] of vectors) {
    assert.equal(ports(deriveSequence(spec(overrides), door, step)), expected, `${door} ${step}`);
    assert.equal(ports(referenceSequence(SECRET, door, step, spec(overrides))), expected, `reference ${door} ${step}`);
  }
});

test('the reference re-implementation agrees on random inputs (property)', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 16, maxLength: 64 }),
      fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.includes('\u0000')),
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.integer({ min: 1, max: 65535 }),
      fc.integer({ min: 0, max: 65534 }),
      fc.integer({ min: 1, max: 16 }),
      fc.constantFrom('tcp' as const, 'udp' as const, 'mixed' as const),
      (secret, door, step, a, width, length, protocols) => {
        const portMin = a;
        const portMax = Math.min(65535, a + width);
        fc.pre(portMax - portMin + 1 >= length);
        const s = { ...timeSequenceDefaults, secret, portMin, portMax, length, protocols };
        const derived = deriveSequence(s, door, step);
        assert.deepEqual(derived, referenceSequence(secret, door, step, s));
        assert.equal(derived.length, length);
        assert.equal(new Set(derived.map((k) => k.port)).size, length, 'no repeated port');
        for (const k of derived) {
          assert.ok(k.port >= portMin && k.port <= portMax, `port ${k.port} in ${portMin}-${portMax}`);
          if (protocols !== 'mixed') assert.equal(k.protocol, protocols);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('a range exactly as long as the sequence yields a permutation of it', () => {
  const derived = deriveSequence(spec({ portMin: 100, portMax: 163, length: 64 }), 'all', 7);
  assert.deepEqual(derived.map((k) => k.port).sort((x, y) => x - y), Array.from({ length: 64 }, (_, i) => 100 + i));
});

test('a wrong secret, door or step gives a different sequence', () => {
  const right = ports(deriveSequence(spec(), 'ssh', 1000));
  const wrongSecret = Buffer.from(SECRET);
  wrongSecret.writeUInt8((wrongSecret.readUInt8(31) ^ 1) & 0xff, 31);
  assert.notEqual(ports(deriveSequence(spec({ secret: wrongSecret }), 'ssh', 1000)), right);
  assert.notEqual(ports(deriveSequence(spec(), 'SSH', 1000)), right);
  assert.notEqual(ports(deriveSequence(spec(), 'ssh', 1001)), right);
  assert.equal(ports(deriveSequence(spec(), 'ssh', 1000)), right, 'deterministic');
});

test('ports are uniform over ranges that do not divide 65536 (no modulo bias)', () => {
  // With n = 40000, plain `u mod n` would put the first port below portMin + 25536 with probability
  // 2*25536/65536 = 0.779; unbiased it is 25536/40000 = 0.638. 4000 samples: sigma ~ 0.0076.
  const s = spec({ portMin: 1, portMax: 40000, length: 1 });
  let low = 0;
  const samples = 4000;
  for (let step = 0; step < samples; step++) if ((deriveSequence(s, 'bias', step)[0]?.port ?? 0) <= 25536) low++;
  assert.ok(Math.abs(low / samples - 25536 / 40000) < 0.03, `fraction ${low / samples}`);
});

test('every range size: first port falls in the lower half as often as it should (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 65535 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), (n, secret) => {
      const s = { ...timeSequenceDefaults, secret, portMin: 1, portMax: n, length: 1 };
      const samples = 1500;
      let low = 0;
      for (let step = 0; step < samples; step++) if ((deriveSequence(s, 'u', step)[0]?.port ?? 0) <= Math.floor(n / 2)) low++;
      const p = Math.floor(n / 2) / n;
      const sigma = Math.sqrt((p * (1 - p)) / samples);
      assert.ok(Math.abs(low / samples - p) < 5 * sigma, `n=${n}: ${low / samples} vs ${p}`);
    }),
    { numRuns: 25 },
  );
});

test('time steps: a time exactly on the boundary belongs to the new step', () => {
  assert.equal(timeStepAt(1_700_000_010_000, 30), 56666667);
  assert.equal(timeStepAt(1_700_000_009_999, 30), 56666666);
  assert.equal(timeStepAt(0, 30), 0);
  assert.deepEqual(candidateSteps(1_700_000_010_000, 30), [56666667, 56666666]);
  assert.deepEqual(candidateSteps(1_700_000_009_999, 30), [56666666, 56666665]);
  assert.deepEqual(candidateSteps(5, 30), [0]);
  assert.throws(() => timeStepAt(-1, 30), isNfknockError);
  assert.throws(() => timeStepAt(1000, 0), isNfknockError);
  assert.throws(() => timeStepAt(1000, 1.5), isNfknockError);
});

test('the sequence derived at the end of a step is still accepted in the next one', () => {
  const period = 30;
  const sentAt = 1_700_000_009_999;
  const sent = ports(deriveSequence(spec(), 'ssh', timeStepAt(sentAt, period)));
  const accepted = candidateSteps(sentAt + 1, period).map((step) => ports(deriveSequence(spec(), 'ssh', step)));
  assert.ok(accepted.includes(sent));
  const muchLater = candidateSteps(sentAt + 1 + period * 1000, period).map((step) => ports(deriveSequence(spec(), 'ssh', step)));
  assert.ok(!muchLater.includes(sent), 'two steps later it is refused');
});

test('replay keys are distinct for distinct (door, step) pairs', () => {
  assert.notEqual(timeSequenceReplayKey('a', 12), timeSequenceReplayKey('a1', 2));
  assert.equal(timeSequenceReplayKey('a', 12), timeSequenceReplayKey('a', 12));
});

test('unusable specs are refused with a reason, never derived', () => {
  const bad: Partial<TimeSequenceSpec>[] = [
    { portMin: 0 },
    { portMax: 65536 },
    { portMin: 30000, portMax: 20000 },
    { length: 0 },
    { length: 65 },
    { length: 5, portMin: 1, portMax: 4 },
    { periodSeconds: 4 },
    { periodSeconds: 30.5 },
    { protocols: 'sctp' as 'tcp' },
    { secret: new Uint8Array(15) },
  ];
  for (const overrides of bad) {
    const s = spec(overrides);
    assert.ok(timeSequenceProblem(s), JSON.stringify(overrides));
    assert.throws(() => deriveSequence(s, 'd', 1), (e: unknown) => isNfknockError(e) && e.code === 'NFK_CONFIG_INVALID');
  }
  assert.equal(timeSequenceProblem(spec()), undefined);
  assert.throws(() => deriveSequence(spec(), 'a\u0000b', 1), isNfknockError);
  assert.throws(() => deriveSequence(spec(), 'ssh', -1), isNfknockError);
  assert.throws(() => deriveSequence(spec(), 'ssh', 1.5), isNfknockError);
});
