import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { encodeBase32 } from '../src/config/base32.js';
import { ConfigError } from '../src/config/problems.js';
import { ErrorCodes, NfknockError } from '../src/core/errors.js';

const dir = await mkdtemp(join(tmpdir(), 'nfknock-config-load-'));
after(() => rm(dir, { recursive: true, force: true }));

let counter = 0;
async function file(content: string | Buffer, mode = 0o600): Promise<string> {
  const path = join(dir, `f${counter++}`);
  await writeFile(path, content);
  await chmod(path, mode);
  return path;
}

async function refusal(promise: Promise<unknown>): Promise<NfknockError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof NfknockError, String(error));
    return error;
  }
  assert.fail('expected a refusal');
}

const SECRET = new Uint8Array(20).map((_, i) => 255 - i);
const SECRET_TEXT = encodeBase32(SECRET);

test('a missing config is NFK_CONFIG_READ naming the path and the errno', async () => {
  const path = join(dir, 'no-such.conf');
  const error = await refusal(loadConfig(path));
  assert.equal(error.code, ErrorCodes.CONFIG_READ);
  assert.match(error.message, new RegExp(`${path}.*ENOENT`));
});

test('a directory is not a config', async () => {
  const error = await refusal(loadConfig(dir));
  assert.equal(error.code, ErrorCodes.CONFIG_READ);
  assert.match(error.message, /not a regular file/);
});

test('a readable config loads; its file name is the path', async () => {
  const path = await file('[options]\nUseSyslog\n[d]\nsequence = 1,2:udp\ncommand = echo %IP%\n', 0o644);
  const config = await loadConfig(path);
  assert.equal(config.file, path);
  assert.equal(config.options.useSyslog, true);
  assert.deepEqual(config.doors[0]?.steps, [{ port: 1, protocol: 'tcp' }, { port: 2, protocol: 'udp' }]);
});

test('parse problems carry the path', async () => {
  const path = await file('[d]\nsequence = 70000\ncommand = x\n');
  const error = await refusal(loadConfig(path));
  assert.deepEqual([error.code, error.location], [ErrorCodes.CONFIG_INVALID, { file: path, line: 2, text: '70000' }]);
});

test('bytes that are not UTF-8 are refused at their line', async () => {
  const path = await file(Buffer.concat([Buffer.from('[d]\nsequence = 1\ncommand = echo '), Buffer.from([0xff, 0xfe]), Buffer.from('\n')]));
  const error = await refusal(loadConfig(path));
  assert.equal(error.code, ErrorCodes.CONFIG_SYNTAX);
  assert.equal(error.location?.line, 3);
  assert.match(error.message, /UTF-8/);
});

test('Sequence_Secret = @file: a 0600 base32 file is read and decoded', async () => {
  const secret = await file(`${SECRET_TEXT.toLowerCase()}\n`, 0o600);
  const path = await file(`[t]\nsequence_secret = @${secret}\nsequence_ports = 1000-1999\ncommand = x\n`, 0o644);
  const config = await loadConfig(path);
  assert.deepEqual(config.doors[0]?.timeSequence?.secret, SECRET);
  assert.equal(config.doors[0]?.timeSequence?.secretFile, secret);
});

test('a secret file group or other can access is refused, naming its mode', async () => {
  for (const mode of [0o640, 0o604, 0o620]) {
    const secret = await file(SECRET_TEXT, mode);
    const path = await file(`[t]\n\nsequence_secret = @${secret}\nsequence_ports = 1000-1999\ncommand = x\n`);
    const error = await refusal(loadConfig(path));
    assert.equal(error.code, ErrorCodes.CONFIG_INVALID);
    assert.deepEqual(error.location, { file: path, line: 3, text: `@${secret}` });
    assert.match(error.message, new RegExp(`mode 0${mode.toString(8)}`));
  }
});

test('a missing or malformed secret file is refused without quoting its content', async () => {
  const missing = join(dir, 'missing-secret');
  const path = await file(`[t]\nsequence_secret = @${missing}\nsequence_ports = 1000-1999\ncommand = x\n`);
  const error = await refusal(loadConfig(path));
  assert.equal(error.location?.line, 2);
  assert.match(error.message, /ENOENT/);

  for (const content of ['not base32 at all!', SECRET_TEXT.slice(0, 20)]) {
    const secret = await file(content);
    const bad = await file(`[t]\nsequence_secret = @${secret}\nsequence_ports = 1000-1999\ncommand = x\n`);
    const refused = await refusal(loadConfig(bad));
    assert.equal(refused.code, ErrorCodes.CONFIG_INVALID);
    assert.ok(!refused.message.includes(content) && !JSON.stringify(refused.location).includes(content), 'secret leaked');
  }
});

test('an inline secret is refused in a config group or other can read, accepted in a 0600 one', async () => {
  const text = `[t]\nsequence_secret = ${SECRET_TEXT}\nsequence_ports = 1000-1999\ncommand = x\n`;
  const error = await refusal(loadConfig(await file(text, 0o644)));
  assert.equal(error.code, ErrorCodes.CONFIG_INVALID);
  assert.match(error.message, /mode 0644/);
  assert.ok(!error.message.includes(SECRET_TEXT));
  const config = await loadConfig(await file(text, 0o600));
  assert.deepEqual(config.doors[0]?.timeSequence?.secret, SECRET);
});

test('One_Time_Sequences must exist and parse; problems point at the key line or into the file', async () => {
  const sequences = await file(' 1,2,3\n#4,5,6\n');
  const ok = await loadConfig(await file(`[d]\none_time_sequences = ${sequences}\ncommand = x\n`));
  assert.equal(ok.doors[0]?.oneTimeFile, sequences);

  const missing = join(dir, 'no-sequences');
  const path = await file(`[d]\ncommand = x\n one_time_sequences = ${missing}\n`);
  const error = await refusal(loadConfig(path));
  assert.equal(error.code, ErrorCodes.CONFIG_INVALID);
  assert.deepEqual(error.location, { file: path, line: 3, text: missing });
  assert.match(error.message, /ENOENT/);

  const broken = await file(' 1,2,3\n 4,notaport\n');
  const brokenError = await refusal(loadConfig(await file(`[d]\none_time_sequences = ${broken}\ncommand = x\n`)));
  assert.ok(brokenError instanceof ConfigError);
  assert.deepEqual(brokenError.location, { file: broken, line: 2, text: 'notaport' });
});
