/**
 * Exponential backoff with jitter: attempt n waits between half and all of
 * min(max, initial * 2^n). The random half keeps many clients from reconnecting in lockstep
 * after a broker restart; `random` is injectable so tests get exact delays.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call doubles the base up to the cap. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(base / 2 + this.random() * (base / 2));
  }

  /** Back to the initial delay (after a successful connection). */
  reset(): void {
    this.attempt = 0;
  }

  /** Delays handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }
}
