/**
 * Event-loop lag gauges without the sampling interval: `tavern_event_loop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds`.
 *
 * Node's `monitorEventLoopDelay({ resolution })` records the time between two ticks of its own
 * timer, the resolution included. Measured on this machine (2 cores, Node 24.21; Node 20.20 the
 * same), 3 s per run:
 *   idle loop, resolution 20 ms:   min 19.1  mean 20.2  p50 20.2  p99 21.4  max 22.8 ms
 *   idle loop, resolution 10 ms:   min  9.1  mean 10.2  p50 10.1  p99 12.5  max 12.8 ms
 *   50 ms busy-wait every 200 ms:  max 67.5 ms at resolution 20, 59.7 ms at resolution 10
 * prom-client's `nodejs_eventloop_lag_*_seconds` export these values as they are, so an idle server
 * reports ~20 ms of "lag" at src/metrics.ts's precision. These gauges subtract the resolution from
 * every statistic (clamped at 0: some samples come in a little early); the standard deviation does
 * not move with a constant offset and is exported unchanged.
 *
 * Like prom-client, the histogram is read on scrape and then reset, so each scrape covers the time
 * since the previous one. A scrape that finds no sample (two scrapes within one resolution) keeps
 * the previous values.
 */
import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

/** Sampling interval of the lag histogram (and of prom-client's, see src/metrics.ts). */
export const EVENT_LOOP_RESOLUTION_MS = 20;

const STATS = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'] as const;
type Stat = (typeof STATS)[number];

const HELP: Record<Stat, string> = {
  min: 'the shortest event-loop delay since the previous scrape',
  max: 'the longest event-loop delay since the previous scrape',
  mean: 'the mean event-loop delay since the previous scrape',
  stddev: 'the standard deviation of event-loop delays since the previous scrape',
  p50: 'the median event-loop delay since the previous scrape',
  p90: 'the 90th percentile of event-loop delays since the previous scrape',
  p99: 'the 99th percentile of event-loop delays since the previous scrape',
};

export class EventLoopLag {
  private readonly histogram: ELDHistogram;
  /** Values read for the scrape under way: every gauge's `collect` runs in one synchronous pass. */
  private current: Record<Stat, number> | undefined;

  constructor(
    registry: Registry,
    readonly resolutionMs = EVENT_LOOP_RESOLUTION_MS,
  ) {
    this.histogram = monitorEventLoopDelay({ resolution: resolutionMs });
    this.histogram.enable(); // its timer is unref'd: it never keeps the process alive
    for (const stat of STATS) {
      const gauge: Gauge = new Gauge({
        name: `tavern_event_loop_lag_${stat}_seconds`,
        help: `${HELP[stat]}, sampling interval (${resolutionMs} ms) excluded`,
        registers: [registry],
        collect: () => {
          const values = this.read();
          if (values) gauge.set(values[stat]);
        },
      });
    }
  }

  /** Stops sampling. */
  close(): void {
    this.histogram.disable();
  }

  /** This scrape's statistics in seconds (undefined without a sample); the first call resets the histogram. */
  private read(): Record<Stat, number> | undefined {
    if (this.current || this.histogram.count === 0) return this.current;
    const h = this.histogram;
    const delay = (ns: number) => Math.max(0, ns - this.resolutionMs * 1e6) / 1e9;
    this.current = {
      min: delay(h.min),
      max: delay(h.max),
      mean: delay(h.mean),
      stddev: h.stddev / 1e9,
      p50: delay(h.percentile(50)),
      p90: delay(h.percentile(90)),
      p99: delay(h.percentile(99)),
    };
    h.reset();
    // The registry calls every gauge's collect before any promise settles: one read serves them all.
    queueMicrotask(() => (this.current = undefined));
    return this.current;
  }
}
