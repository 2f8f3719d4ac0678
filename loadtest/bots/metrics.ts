/**
 * Measurements of the load-test bots: latency histograms, counters and lost-message tracking;
 * re-exported by common.ts.
 */
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';

// ---------------------------------------------------------------------------------------------
// Measurements

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  avg: number;
}

export interface FlowSummary {
  /** Messages the receivers should have got (sent before the cut-off, times their fan-out). */
  expected: number;
  delivered: number;
  lost: number;
  /** Sends after this many seconds into the run are not counted (still in flight at the stop). */
  cutoffSec: number;
}

/** Latency histograms (ms, recorded in µs), counters and delivery flows of one bot kind. */
export class Stats {
  readonly startedAt = performance.now();
  readonly startedAtIso = new Date().toISOString();
  private stoppedAt: number | undefined;
  private readonly histograms = new Map<string, RecordableHistogram>();
  private readonly counters = new Map<string, number>();
  private readonly flows = new Map<string, { expected: Map<number, number>; delivered: Map<number, number> }>();
  readonly errorSamples: string[] = [];

  latency(name: string, ms: number): void {
    let h = this.histograms.get(name);
    if (!h) this.histograms.set(name, (h = createHistogram()));
    h.record(Math.max(1, Math.round(ms * 1000)));
  }

  count(name: string, n = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + n);
  }

  get(name: string): number {
    return this.counters.get(name) ?? 0;
  }

  /** An error: counted under `errors` and `errors.<kind>`, the first 20 kept as samples. */
  error(kind: string, detail: unknown): void {
    this.count('errors');
    this.count(`errors.${kind}`);
    if (this.errorSamples.length < 20) {
      // The SDK rejects a room socket that closes before joining with an empty message: name the error then.
      const text =
        detail instanceof Error
          ? detail.message || `${detail.name} (no message)`
          : typeof detail === 'string'
            ? detail
            : JSON.stringify(detail);
      this.errorSamples.push(`${kind}: ${text}`.slice(0, 300));
    }
  }

  get errors(): number {
    return this.get('errors');
  }

  /** A message sent at `sentAt` (performance.now()) that `receivers` should get. */
  expect(flow: string, sentAt: number, receivers: number): void {
    this.bucket(flow).expected.set(this.second(sentAt), (this.bucket(flow).expected.get(this.second(sentAt)) ?? 0) + receivers);
  }

  /** One receiver got the message of `flow` sent at `sentAt`. */
  arrive(flow: string, sentAt: number): void {
    const b = this.bucket(flow);
    const s = this.second(sentAt);
    b.delivered.set(s, (b.delivered.get(s) ?? 0) + 1);
  }

  private second(t: number): number {
    return Math.floor((t - this.startedAt) / 1000);
  }

  private bucket(flow: string) {
    let b = this.flows.get(flow);
    if (!b) this.flows.set(flow, (b = { expected: new Map(), delivered: new Map() }));
    return b;
  }

  stop(): void {
    this.stoppedAt ??= performance.now();
  }

  get stopped(): boolean {
    return this.stoppedAt !== undefined;
  }

  /** Seconds from the first bot's start to the stop (or now). */
  get seconds(): number {
    return ((this.stoppedAt ?? performance.now()) - this.startedAt) / 1000;
  }

  latencies(): Record<string, LatencySummary> {
    const out: Record<string, LatencySummary> = {};
    for (const [name, h] of [...this.histograms].sort(([a], [b]) => a.localeCompare(b))) {
      const ms = (v: number) => round(Number.isFinite(v) ? v / 1000 : 0, 2);
      out[name] = {
        count: h.count,
        p50: ms(h.percentile(50)),
        p95: ms(h.percentile(95)),
        p99: ms(h.percentile(99)),
        max: ms(h.max),
        avg: ms(h.mean),
      };
    }
    return out;
  }

  counts(): Record<string, number> {
    return Object.fromEntries([...this.counters].sort(([a], [b]) => a.localeCompare(b)));
  }

  /**
   * Deliveries against expectations for messages sent more than `graceSec` before the stop, so
   * that messages still in flight when the run stopped do not count as lost.
   */
  deliveries(graceSec = 2): Record<string, FlowSummary> {
    const cutoff = Math.floor(this.seconds - graceSec);
    const out: Record<string, FlowSummary> = {};
    for (const [flow, b] of this.flows) {
      let expected = 0;
      let delivered = 0;
      for (const [s, n] of b.expected) if (s < cutoff) expected += n;
      for (const [s, n] of b.delivered) if (s < cutoff) delivered += n;
      out[flow] = { expected, delivered, lost: Math.max(0, expected - delivered), cutoffSec: Math.max(0, cutoff) };
    }
    return out;
  }
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
