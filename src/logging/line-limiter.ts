/**
 * Bounds the log lines one category may produce: knockd writes a line for every stage, which under a
 * spoofed flood is thousands of lines a second. Pure: time is an argument. Meant for stage / timeout /
 * broken lines only; OPEN SESAME and command lines must bypass it, they are the audit trail.
 *
 * Memory is bounded by the number of categories, which callers keep to a fixed set of constants; past
 * `maxCategories`, new names share one overflow bucket rather than growing the map.
 */
export interface LineLimiterOptions {
  /** Lines admitted per category per window. */
  linesPerWindow: number;
  windowMs: number;
  maxCategories?: number;
}

export interface SuppressedSummary {
  category: string;
  suppressed: number;
  /** From the first suppressed line to the time of the summary. */
  spanMs: number;
}

export type Admission = { admit: true; summary?: SuppressedSummary } | { admit: false };

interface Bucket {
  windowStart: number;
  admitted: number;
  suppressed: number;
  firstSuppressedAt: number;
}

export const OVERFLOW_CATEGORY = '(other)';

/** Shared: the refusal is the per-packet path under a flood and must not allocate. */
const REFUSED: Admission = Object.freeze({ admit: false });

export class LineLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxCategories: number;

  constructor(private readonly options: LineLimiterOptions) {
    if (!(options.linesPerWindow >= 1) || !(options.windowMs > 0)) {
      throw new RangeError('LineLimiter needs linesPerWindow >= 1 and windowMs > 0');
    }
    this.maxCategories = options.maxCategories ?? 32;
  }

  /**
   * Whether a line of this category may be written now. When a new window opens after suppression, the
   * admitted line carries the summary of what was held back, to be written before it.
   */
  admit(category: string, nowMs: number): Admission {
    const bucket = this.bucketFor(category, nowMs);
    let summary: SuppressedSummary | undefined;
    if (nowMs - bucket.windowStart >= this.options.windowMs || nowMs < bucket.windowStart) {
      summary = this.takeSummary(this.keyOf(category), bucket, nowMs);
      bucket.windowStart = nowMs;
      bucket.admitted = 0;
    }
    if (bucket.admitted < this.options.linesPerWindow) {
      bucket.admitted++;
      return summary ? { admit: true, summary } : { admit: true };
    }
    if (bucket.suppressed === 0) bucket.firstSuppressedAt = nowMs;
    bucket.suppressed++;
    return REFUSED;
  }

  /**
   * Summaries for categories whose window has closed with lines held back. Call it from a timer: after
   * a flood stops, no further line would come to carry the summary.
   */
  flush(nowMs: number): SuppressedSummary[] {
    const out: SuppressedSummary[] = [];
    for (const [category, bucket] of this.buckets) {
      if (bucket.suppressed === 0 || nowMs - bucket.windowStart < this.options.windowMs) continue;
      const summary = this.takeSummary(category, bucket, nowMs);
      if (summary) out.push(summary);
    }
    return out;
  }

  /** Summaries for everything held back, regardless of windows (for shutdown). */
  drain(nowMs: number): SuppressedSummary[] {
    const out: SuppressedSummary[] = [];
    for (const [category, bucket] of this.buckets) {
      const summary = this.takeSummary(category, bucket, nowMs);
      if (summary) out.push(summary);
    }
    return out;
  }

  private takeSummary(category: string, bucket: Bucket, nowMs: number): SuppressedSummary | undefined {
    if (bucket.suppressed === 0) return undefined;
    const summary = { category, suppressed: bucket.suppressed, spanMs: Math.max(0, nowMs - bucket.firstSuppressedAt) };
    bucket.suppressed = 0;
    return summary;
  }

  private keyOf(category: string): string {
    return this.buckets.has(category) || this.buckets.size < this.maxCategories ? category : OVERFLOW_CATEGORY;
  }

  private bucketFor(category: string, nowMs: number): Bucket {
    const key = this.keyOf(category);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { windowStart: nowMs, admitted: 0, suppressed: 0, firstSuppressedAt: nowMs };
      this.buckets.set(key, bucket);
    }
    return bucket;
  }
}
