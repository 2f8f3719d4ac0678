/** Prometheus metrics for one server instance (its own registry, never prom-client's global one). */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { EVENT_LOOP_RESOLUTION_MS, EventLoopLag } from './metrics-loop.js';

export class Metrics {
  readonly registry = new Registry();
  readonly apiDuration = new Histogram({
    name: 'tavern_api_request_duration_seconds',
    help: 'API request latency by Nakama operation and gRPC code',
    labelNames: ['operation', 'code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly hookErrors = new Counter({
    name: 'tavern_hook_errors_total',
    help: 'errors thrown by after hooks (never sent to clients)',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });
  readonly passwordHashes = new Counter({
    name: 'tavern_password_hashes_total',
    help: 'argon2 hash and verify computations',
    registers: [this.registry],
  });
  readonly roomErrors = new Counter({
    name: 'tavern_room_errors_total',
    help: 'exceptions caught in room handlers',
    labelNames: ['room', 'method'] as const,
    registers: [this.registry],
  });

  /** `tavern_event_loop_lag_*_seconds`: the real delay, unlike prom-client's lag (src/metrics-loop.ts). */
  readonly eventLoopLag = new EventLoopLag(this.registry);

  constructor() {
    // Process memory, CPU, GC, handles, and prom-client's own event-loop lag. Its
    // `nodejs_eventloop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds` include the sampling interval
    // (an idle server shows ~20 ms): read `tavern_event_loop_lag_*` instead. prom-client 15 has no
    // option to leave out one default metric.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_RESOLUTION_MS });
  }

  /** Stops the event-loop sampling (prom-client's own sampler cannot be stopped). */
  close(): void {
    this.eventLoopLag.close();
  }
}
