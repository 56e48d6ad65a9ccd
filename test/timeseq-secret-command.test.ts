import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isNfknockError } from '../src/core/errors.js';
import { runSecretCommand, secretInstructions } from '../src/timeseq/secret-command.js';
import { parseSecretText } from '../src/timeseq/secret.js';

const fixedRandom = (size: number) => Uint8Array.from({ length: size }, (_, i) => i);

test('prints the base32 secret, a door that reads it from a file, and the client command', async () => {
  let printed = '';
  await runSecretCommand({ door: 'ssh', host: 'gw.example.org' }, { out: (t) => (printed += t), random: fixedRandom });
  const secretLine = printed.split('\n')[1] ?? '';
  assert.deepEqual(parseSecretText(secretLine, 'printed'), fixedRandom(32));
  assert.match(printed, /^\[ssh\]$/m);
  assert.match(printed, /^ {4}Sequence_Secret {4}= @\/etc\/nfknock\/secrets\/ssh$/m);
  assert.match(printed, /^nfknock knock --secret \S+ --door ssh gw\.example\.org$/m);
});

test('--inline puts the secret in the door; non-default parameters reach the client command', () => {
  const text = secretInstructions('ABCD', { door: 'web', inline: true, period: 60, protocols: 'mixed', ports: { portMin: 1000, portMax: 1999 } });
  assert.match(text, /Sequence_Secret {4}= ABCD$/m);
  assert.match(text, /Sequence_Ports {5}= 1000-1999$/m);
  assert.match(text, /--door web --period 60 --ports 1000-1999 --protocols mixed HOST$/m);
});

test('--write stores the secret 0600 and does not print it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nfke-secret-'));
  try {
    const file = join(dir, 'ssh.secret');
    let printed = '';
    await runSecretCommand({ door: 'ssh', write: file }, { out: (t) => (printed += t), random: fixedRandom });
    const stored = await readFile(file, 'utf8');
    assert.deepEqual(parseSecretText(stored, file), fixedRandom(32));
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.ok(!printed.includes(stored.trim()));
    assert.match(printed, new RegExp(`Sequence_Secret {4}= @${file.replace(/[.]/g, '\\.')}$`, 'm'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad door names and parameters are usage errors', async () => {
  for (const options of [{ door: '' }, { door: 'a b' }, { door: 'x]' }, { door: 'ok', length: 0 }, { door: 'ok', period: 1 }]) {
    await assert.rejects(
      runSecretCommand(options, { out: () => assert.fail('printed'), random: fixedRandom }),
      (e: unknown) => isNfknockError(e) && e.code === 'NFK_USAGE',
    );
  }
  await assert.rejects(runSecretCommand({ door: 'ok', write: '/nonexistent-dir-nfke/x' }, { out: () => undefined, random: fixedRandom }), isNfknockError);
});
