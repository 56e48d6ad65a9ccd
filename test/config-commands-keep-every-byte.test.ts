import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { substituteCommand } from '../src/config/substitute.js';
import { ErrorCodes, NfknockError } from '../src/core/errors.js';
import { parse } from './helpers/config-assert.js';

function startCommandOf(commandLine: string): string | undefined {
  return parse('[d]', 'sequence = 1', commandLine).doors[0]?.startCommand;
}

test('";" and "#" after "=" are part of the command (no inline comments)', () => {
  assert.equal(
    startCommandOf('command = iptables -A INPUT -s %IP% -j ACCEPT; logger "knock #1" # really'),
    'iptables -A INPUT -s %IP% -j ACCEPT; logger "knock #1" # really',
  );
  assert.equal(startCommandOf('command = #not a comment'), '#not a comment');
  assert.equal(startCommandOf('command = ;'), ';');
});

test('the command is split at the first "=" only', () => {
  assert.equal(startCommandOf('command = env A=1 B==2 sh -c "x=%IP%"'), 'env A=1 B==2 sh -c "x=%IP%"');
  assert.equal(startCommandOf('command==x'), '=x');
});

test('quotes, backslashes, $ and backticks are kept as written', () => {
  const command = `sh -c 'echo "$HOME" \\n \`id\`' && printf '%s\\t%s' "a b" 'c;d'`;
  assert.equal(startCommandOf(`command = ${command}`), command);
});

test('only surrounding C whitespace is trimmed; inner runs and non-ASCII spaces stay', () => {
  assert.equal(startCommandOf('command = \t  a   \t b  \t\r'), 'a   \t b');
  assert.equal(startCommandOf('command = \u00a0x\u00a0'), '\u00a0x\u00a0');
  assert.equal(startCommandOf('command = echo ünïcödé ✓'), 'echo ünïcödé ✓');
});

test('%IP% is left in the parsed command and replaced everywhere by substituteCommand', () => {
  const command = startCommandOf('command = a %IP% b %IP%%IP% "%IP%";%IP%') as string;
  assert.equal(command, 'a %IP% b %IP%%IP% "%IP%";%IP%');
  assert.equal(substituteCommand(command, '192.0.2.7'), 'a 192.0.2.7 b 192.0.2.7192.0.2.7 "192.0.2.7";192.0.2.7');
  assert.equal(substituteCommand(command, '2001:db8::1'), 'a 2001:db8::1 b 2001:db8::12001:db8::1 "2001:db8::1";2001:db8::1');
  assert.equal(substituteCommand('%ip% %IP %IP%IP%', '10.0.0.1'), '%ip% %IP 10.0.0.1IP%', 'case-sensitive, left to right, like knockd');
  assert.equal(substituteCommand('no token here', '10.0.0.1'), 'no token here');
});

test('substituteCommand refuses anything but a canonical address (it would become shell text)', () => {
  for (const bad of ['10.0.0.1; reboot', '$(reboot)', '', '010.0.0.1', '2001:DB8::1', '2001:db8:0::1', 'fe80::1%eth0', '::ffff:0a00:0001']) {
    assert.throws(
      () => substituteCommand('iptables -s %IP%', bad),
      (error: unknown) => error instanceof NfknockError && error.code === ErrorCodes.INTERNAL,
      bad,
    );
  }
});

test('any command text without line breaks or NUL round-trips byte for byte (property)', () => {
  const cSpace = /^[ \t\v\f\r]|[ \t\v\f\r]$/;
  fc.assert(
    fc.property(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }).filter((s) => !/[\n\u0000]/.test(s) && !cSpace.test(s)),
      (command) => {
        assert.equal(startCommandOf(`Start_Command =  ${command}  `), command);
        // Stop commands are kept in the state file, which holds single-line text (tabs allowed):
        // one it could not keep is refused at its line rather than failing when the door opens.
        const lines = ['[d]', 'sequence = 1', 'command = x', `stop_command=${command}`, `STOP_COMMAND_6 = ${command}`] as const;
        if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(command)) {
          assert.throws(() => parse(...lines), /:4: Stop_Command holds a control character/);
          return;
        }
        const door = parse(...lines).doors[0];
        assert.equal(door?.stopCommand, command);
        assert.equal(door?.stopCommand6, command);
      },
    ),
    { numRuns: 2000 },
  );
});
