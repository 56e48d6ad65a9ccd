import { ipsetName } from '../firewall/operations.js';

/**
 * `ipset restore` input creating the sets that `Open =` doors use with Firewall = ipset. `timeout 0`:
 * the set supports timeouts and each entry carries its own (cmd_timeout). With -exist, loading it again
 * keeps the sets and their entries; it must load before the iptables file that matches them.
 */
export function ipsetRules(): string {
  return [
    '# nfknock sets for Open = doors (Firewall = ipset): nfknockd adds (knocker, protocol, port) with a',
    '# timeout of cmd_timeout, so the kernel closes the door even if nothing else does. Load this before',
    '# the iptables-restore file (nfknock rules --complete) that matches them:',
    '#   ipset restore -exist < THIS_FILE',
    `create ${ipsetName(4)} hash:ip,port family inet timeout 0`,
    `create ${ipsetName(6)} hash:ip,port family inet6 timeout 0`,
    '',
  ].join('\n');
}
