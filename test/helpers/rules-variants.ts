/**
 * Every shape of generated rules, with the commands that load it, so e2e tests can run the same
 * scenario (load, knock, open) on top of each one.
 *
 *   for (const variant of rulesVariants) {
 *     const text = generateRules(config, variant.options);
 *     for (const step of variant.load) await lab.execOk('server', step.argv, step.stdin ? { input: text } : {});
 *   }
 */
import type { RulesOptions } from '../../src/rules/generate.js';
import { iptablesHookCommand } from '../../src/rules/generate.js';

export interface LoadStep {
  argv: string[];
  /** Feed the generated rules text on stdin. */
  stdin: boolean;
}

export interface RulesVariant {
  name: string;
  options: RulesOptions;
  /** Run in order in the server namespace; running all of them again must change nothing. */
  load: LoadStep[];
  /** Prints the loaded knock rules (iptables -S NFKNOCK, nft list table). */
  show: string[];
}

export const variantFloodGuard = { perSourcePerSecond: 20, burst: 40 } as const;

function variant(
  format: RulesOptions['format'],
  family: RulesOptions['family'],
  target: RulesOptions['target'],
  complete: boolean,
  guarded: boolean,
): RulesVariant {
  const name = [
    format === 'nft' ? 'nft' : `ipv${family}`,
    target,
    complete ? 'complete' : 'fragment',
    ...(guarded ? ['flood-guard'] : []),
  ].join('-');
  const options: RulesOptions = {
    format,
    family,
    target,
    complete,
    group: 5,
    prefix: 'portknock',
    floodGuard: guarded ? { ...variantFloodGuard } : undefined,
  };
  if (format === 'nft') {
    return { name, options, load: [{ argv: ['nft', '-f', '-'], stdin: true }], show: ['nft', 'list', 'table', 'inet', 'nfknock'] };
  }
  const tool = family === 4 ? 'iptables' : 'ip6tables';
  const load: LoadStep[] = [{ argv: [`${tool}-restore`, ...(complete ? [] : ['--noflush'])], stdin: true }];
  if (!complete) load.push({ argv: ['/bin/sh', '-c', iptablesHookCommand(family)], stdin: false });
  return { name, options, load, show: [tool, '-S', 'NFKNOCK'] };
}

export const rulesVariants: readonly RulesVariant[] = [
  ...([4, 6] as const).flatMap((family) =>
    (['nflog', 'log'] as const).flatMap((target) =>
      [false, true].flatMap((complete) => [false, true].map((guarded) => variant('iptables', family, target, complete, guarded))),
    ),
  ),
  ...(['nflog', 'log'] as const).flatMap((target) =>
    [false, true].flatMap((complete) => [false, true].map((guarded) => variant('nft', 4, target, complete, guarded))),
  ),
];
