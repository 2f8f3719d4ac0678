/** Result types and Markdown tables of the `driver` scenario (loadtest/driver.ts). */
import type { DriverServerReady } from './driver-server.js';
import type { Kind } from './driver-targets.js';
import type { DriverBenchOptions } from './driver.js';
import { busyWarning } from './report.js';
import { fmt, type machine } from './support.js';

export type Op = 'chat join' | 'session join' | 'match list';

export interface OpRun {
  driver: Kind;
  driverClass: string;
  sessions: number;
  op: Op;
  n: number;
  ok: number;
  errors: number;
  /** Failures of the untimed warm-up before the measured rounds. */
  warmupErrors: number;
  seconds: number;
  opsPerSec: number;
  latencyMs: { p50: number; p90: number; p95: number; p99: number; max: number; avg: number };
  serverCpuMsPerOp: number;
  redisCpuMsPerOp: number;
  /** PostgreSQL CPU per operation (all its processes), when the cluster is the bench's own. */
  postgresCpuMsPerOp?: number;
  /** CPU of everything else on the machine during the phase, in % of one core. */
  otherCpuPct?: number;
  /** Chat only: channels whose members did not all see each other (split over rooms). */
  splitChannels?: number;
}

export interface ServerRow {
  driver: Kind;
  sessions: number;
  ready: DriverServerReady;
}

export function driverMarkdown(runs: OpRun[], servers: ServerRow[], opts: DriverBenchOptions, info: ReturnType<typeof machine>): string {
  const out: string[] = [];
  const cls = (k: Kind) => servers.find((s) => s.driver === k)?.ready.driver ?? '?';
  out.push(
    `Joins with session rooms listed in the shared registry: Tavern driver (${cls('tavern')}) against stock (${cls('stock')}), ` +
      `${fmt(opts.joins)} joins and ${fmt(opts.lists)} match lists per row, ${opts.concurrency} in flight, ` +
      `in ${opts.rounds} rounds interleaved over the four processes (each on its own Redis)`,
  );
  out.push('');
  out.push(
    '| operation | session rooms listed | Tavern p50 / p95 / p99 | Tavern ops/s | stock p50 / p95 / p99 | stock ops/s | ops/s ratio (Tavern/stock) | p99 ratio (Tavern/stock) |',
  );
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  const lat = (r: OpRun) => `${fmt(r.latencyMs.p50, 1)} / ${fmt(r.latencyMs.p95, 1)} / ${fmt(r.latencyMs.p99, 1)} ms`;
  for (const op of ['chat join', 'session join', 'match list'] as const) {
    for (const sessions of [0, opts.sessions]) {
      const t = runs.find((r) => r.op === op && r.sessions === sessions && r.driver === 'tavern');
      const s = runs.find((r) => r.op === op && r.sessions === sessions && r.driver === 'stock');
      if (!t || !s) continue;
      out.push(
        `| ${op} | ${fmt(sessions)} | ${lat(t)} | ${fmt(t.opsPerSec)} | ${lat(s)} | ${fmt(s.opsPerSec)} | ${fmt(t.opsPerSec / s.opsPerSec, 2)} | ` +
          `${fmt(t.latencyMs.p99 / s.latencyMs.p99, 2)} |`,
      );
    }
  }
  out.push('');
  out.push(
    '| operation | session rooms listed | driver | ok | errors | max latency | server CPU ms/op | Redis CPU ms/op | PostgreSQL CPU ms/op | other processes CPU | split channels |',
  );
  out.push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  const order = (r: OpRun) =>
    ['chat join', 'session join', 'match list'].indexOf(r.op) * 4 + (r.sessions > 0 ? 2 : 0) + (r.driver === 'stock' ? 1 : 0);
  for (const r of [...runs].sort((x, y) => order(x) - order(y))) {
    out.push(
      `| ${r.op} | ${fmt(r.sessions)} | ${r.driver} (${r.driverClass}) | ${fmt(r.ok)} | ${r.errors} | ${fmt(r.latencyMs.max, 1)} ms | ${fmt(r.serverCpuMsPerOp, 2)} | ` +
        `${fmt(r.redisCpuMsPerOp, 3)} | ${r.postgresCpuMsPerOp === undefined ? 'n/a' : fmt(r.postgresCpuMsPerOp, 2)} | ${r.otherCpuPct === undefined ? 'n/a' : `${fmt(r.otherCpuPct)} %`} | ${r.splitChannels === undefined ? 'n/a' : r.splitChannels} |`,
    );
  }
  out.push('');
  const populated = servers.filter((s) => s.sessions > 0);
  out.push(
    `Session rooms: ${fmt(opts.sessions)} listings (name 'session', roomId session_<uuid>, private, locked, 1/1 clients, the live process's id) ` +
      `recorded through each driver's insert/persist with initializeRoomCache, not real sessions` +
      (populated.length > 0 ? ` (${populated.map((s) => `${s.driver}: ${fmt(s.ready.populateMs)} ms`).join(', ')})` : '') +
      ". Chat join = `create('chat', { type: 1, target })` over " +
      `${fmt(Math.ceil(opts.joins / opts.channelSize))} channels of ${opts.channelSize}; a split channel is one whose members ended up in different rooms ` +
      '(a driver without insert-if-absent creates a second room for an existing channel).',
  );
  const stockChat = runs.filter((r) => r.driver === 'stock' && r.op === 'chat join');
  if (stockChat.some((r) => r.errors > 0 || r.warmupErrors > 0 || (r.splitChannels ?? 0) > 0))
    out.push(
      'Stock driver, chat joins (no insert-if-absent, so a second `create` of a channel makes a duplicate room): ' +
        stockChat
          .map(
            (r) =>
              `${fmt(r.sessions)} listed: ${r.errors} of ${fmt(r.n)} joins failed (and ${r.warmupErrors} of the untimed warm-up), ` +
              `${r.splitChannels ?? 0} channels split`,
          )
          .join('; ') +
        '. Not counted as a bench failure: this is what the comparison shows.',
    );
  out.push(`Machine: ${info.cpu}, ${info.cores} cores, Node ${info.node}, ${info.os}`);
  out.push(`Layout: ${opts.layout}`);
  // PostgreSQL counts as "other" here, hence the higher threshold.
  return (
    out.join('\n') +
    busyWarning(
      runs.map((r) => [`${r.op} / ${r.sessions} / ${r.driver}`, r.otherCpuPct]),
      30,
    )
  );
}
