/**
 * Numbers the generated rules share with docs/deploying.md. NFLOG copies this many bytes of each knock:
 * enough for an IPv6 header (40) plus TCP ports and flags, even behind IPv4 options (60 + 14).
 */
export const NFLOG_COPY_BYTES = 128;

/**
 * Flood guard tables: per-source state for at most FLOOD_TABLE_MAX sources, each forgotten after
 * FLOOD_TABLE_EXPIRE_MS without knocks. A full xt_hashlimit table drops (and so does not log) knocks
 * from sources it has no room for; a full nft set skips the log for them. Either way a spoofed flood
 * from many addresses is capped at about FLOOD_TABLE_MAX new sources per expiry period.
 */
export const FLOOD_TABLE_MAX = 65536;
export const FLOOD_TABLE_BUCKETS = 4096;
export const FLOOD_TABLE_EXPIRE_MS = 10000;
/** IPv6 hosts get a /64 each; counting per address would let one host use 2^64 budgets. */
export const IPV6_SOURCE_PREFIX = 64;
