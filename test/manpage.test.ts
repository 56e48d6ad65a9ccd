import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { renderManPage, roff } from '../scripts/lib/manpage.js';

test('roff escapes backslashes, hyphens and leading control characters', () => {
  assert.equal(roff('a\\b --x'), 'a\\eb \\-\\-x');
  assert.equal(roff(".TH\n'x"), "\\&.TH\n\\&'x");
});

test('a page has NAME, SYNOPSIS, the description before OPTIONS, every option with its default, and commands', () => {
  const program = new Command('tool').description('does things').option('-c, --config <file>', 'the config', '/etc/x.conf');
  program.command('sub').description('a subcommand').option('--json', 'machine-readable');
  const page = renderManPage(program, {
    name: 'tool',
    section: 1,
    version: '1.2.3',
    date: '2026-12-02',
    extra: [{ title: 'Description', body: ['Long text.'] }, { title: 'Files', body: ['  /etc/x.conf'] }],
    seeAlso: ['other(8)'],
  });
  const sections = [...page.matchAll(/^\.SH (.*)$/gm)].map((m) => m[1]);
  assert.deepEqual(sections, ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'COMMANDS', 'FILES', 'SEE ALSO']);
  assert.match(page, /\\fB\\-c\\fR, \\fB\\-\\-config\\fR \\fIfile\\fR\nthe config \(default: \/etc\/x\.conf\)/);
  assert.match(page, /\.SS tool sub\n\.PP\na subcommand/);
  assert.match(page, /\\fBother\\fR\(8\)/);
});
