/** A fake clock for actors that take a timers port: time moves only when a test awaits `advance`. */
export class FakeTimers {
  private time = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; every: number | undefined; fn: () => void }>();

  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  every(ms: number, fn: () => void): () => void {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + ms, every: ms, fn });
    return () => this.timers.delete(id);
  }

  after(ms: number, fn: () => void): () => void {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + ms, every: undefined, fn });
    return () => this.timers.delete(id);
  }

  /** Timers still scheduled. */
  get pending(): number {
    return this.timers.size;
  }

  /**
   * Moves time forward, firing every timer that falls due, in order, and letting the promise
   * chains each one starts settle before the next.
   */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      let next: [number, { at: number; every: number | undefined; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      const [id, timer] = next;
      this.time = timer.at;
      if (timer.every !== undefined) timer.at += timer.every;
      else this.timers.delete(id);
      timer.fn();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.time = end;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
