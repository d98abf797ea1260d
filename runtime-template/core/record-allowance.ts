// A token bucket for records that a caller without credentials can cause: so many a second, and as
// many at once; past that they are counted but not each written.

/** A token bucket: `perSecond` records a second, and as many at once. */
export class RecordAllowance {
  #tokens: number;
  #at = 0;
  constructor(private readonly perSecond: number) {
    this.#tokens = perSecond;
  }
  take(nowMs: number): boolean {
    this.#tokens = Math.min(this.perSecond, this.#tokens + ((nowMs - this.#at) / 1000) * this.perSecond);
    this.#at = nowMs;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}
