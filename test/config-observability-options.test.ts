import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../src/config/parse.js';
import { mergeFlags } from '../src/daemon/options.js';
import { SYSLOG_FACILITIES } from '../src/config/option-values.js';
import { defaultOptions } from '../src/core/types.js';
import { ConfigError } from '../src/config/problems.js';
import { isNfknockError } from '../src/core/errors.js';

const conf = (options: string) => `[options]\n${options}\n`;

test('SyslogTag, SyslogFacility, MetricsFile and StatsFile are read from [options], with defaults', () => {
  assert.deepEqual(
    [defaultOptions.syslogTag, defaultOptions.syslogFacility, defaultOptions.statsFile, defaultOptions.metricsFile],
    ['nfknockd', 'user', '/run/nfknock/stats.json', undefined],
  );
  const { options } = parseConfig(
    conf('  SyslogTag = knockd\n  syslogfacility = AUTHPRIV\n  MetricsFile = /var/lib/prometheus/node-exporter/nfknock.prom\n  StatsFile = /run/k/stats.json'),
    'k.conf',
  );
  assert.equal(options.syslogTag, 'knockd');
  assert.equal(options.syslogFacility, 'authpriv');
  assert.equal(options.metricsFile, '/var/lib/prometheus/node-exporter/nfknock.prom');
  assert.equal(options.statsFile, '/run/k/stats.json');
});

const refusals: Array<[string, RegExp]> = [
  ['SyslogTag = nf knock', /SyslogTag must be 1-32 of/],
  ['SyslogTag = knockd[1]', /SyslogTag must be/],
  ['SyslogTag = knockd:', /SyslogTag must be/],
  ['SyslogTag = ' + 'x'.repeat(33), /SyslogTag must be/],
  ['SyslogFacility = kern', /SyslogFacility must be one of user, daemon/],
  ['SyslogFacility = local8', /SyslogFacility must be one of/],
  ['MetricsFile = nfknock.prom', /MetricsFile must be an absolute path/],
  ['StatsFile = stats.json', /StatsFile must be an absolute path/],
];

for (const [line, message] of refusals) {
  test(`[options] refuses ${JSON.stringify(line)} with its line, and the flag refuses the same value`, () => {
    assert.throws(
      () => parseConfig(conf(line), 'k.conf'),
      (error: unknown) => error instanceof ConfigError && error.problems.length === 1 && error.problems[0]?.line === 2 && message.test(error.problems[0].message),
    );
    const [key, value] = line.split(' = ') as [string, string];
    const flag = { SyslogTag: 'syslogTag', SyslogFacility: 'syslogFacility', MetricsFile: 'metricsFile', StatsFile: 'statsFile' }[key] as string;
    const flagName = `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    assert.throws(
      () => mergeFlags(parseConfig('', 'k.conf'), { config: 'k.conf', [flag]: value }),
      (error: unknown) => isNfknockError(error) && error.code === 'NFK_USAGE' && error.message.startsWith(flagName) && message.test(error.message.replace(flagName, key)),
    );
  });
}

test('flags win over [options] and take exactly the values the file takes', () => {
  const config = parseConfig(conf('SyslogTag = knockd\nSyslogFacility = daemon'), 'k.conf');
  const merged = mergeFlags(config, { config: 'k.conf', syslogTag: 'nfk.1', syslogFacility: 'Local7', metricsFile: '/m/n.prom', statsFile: '/s.json' });
  assert.deepEqual(
    [merged.options.syslogTag, merged.options.syslogFacility, merged.options.metricsFile, merged.options.statsFile],
    ['nfk.1', 'local7', '/m/n.prom', '/s.json'],
  );
  for (const facility of SYSLOG_FACILITIES) assert.equal(parseConfig(conf(`SyslogFacility = ${facility}`), 'k.conf').options.syslogFacility, facility);
});
