import { NFT_OPEN_RULES, NFT_OPEN_SETS } from './nft.js';

/**
 * For a host that keeps its own nft ruleset with a base chain that drops: an accept in nfknock's table
 * cannot lift that drop, so the sets nfknockd fills and the rules accepting them must live in the host's
 * table. `nft -f` input; nfknockd writes there with `NftTable = <table>` in [options].
 */
export function nftOwnTableRules(table: string, chain: string): string {
  return [
    `# The sets nfknockd's Open = doors fill, and the rules that accept them, for your own table inet ${table}`,
    `# whose chain ${chain} drops what it does not accept. Load once with nft -f (each load inserts the rules`,
    `# again), and set NftTable = ${table} in [options] of knockd.conf. The knock marks still come from`,
    "# nfknock's own table (nfknock rules --format nft), which only logs.",
    ...NFT_OPEN_SETS.map((set) => `add ${set.replace(/^set /, `set inet ${table} `)}`),
    ...NFT_OPEN_RULES.map((rule) => `insert rule inet ${table} ${chain} ${rule}`),
    '',
  ].join('\n');
}
