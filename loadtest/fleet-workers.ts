/**
 * The load generator of the fleet scenario (loadtest/fleet.ts): child processes running
 * loadtest/fleet-load.ts, driven over IPC, and one measured run over them.
 *
 * A run: `clients` clients in groups of `groupSize`; group g talks HTTP to `servers[g mod P]` and
 * its WebSockets go where Colyseus placed its room; the groups are split in contiguous blocks over
 * the workers, and every `sampleEvery`-th group has one @colyseus/sdk receiver that decodes and
 * checks what it gets (the others count frames, raw). Connect, start sending, warm up, then two
 * marks `durationSec` apart: each worker reports its counters and its own clock at each mark
 * (rates are per worker, over its own interval), while this process reads the CPU time of every
 * server process, of the workers, of itself, of Redis (`INFO cpu`) and of the machine. Then stop,
 * drain (every room must get every message its members sent: sent × (members − 1) deliveries,
 * counted exactly by the raw receivers), leave.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createHistogram, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FromWorker, GroupPlan, LoadPlan, SampleReport, ToWorker } from './fleet-ipc.js';
import { cpuSeconds, machineBusySeconds, percentiles, root } from './support.js';

/**
 * Seconds the hypervisor ran something else while this VM's CPUs wanted to run (steal, /proc/stat),
 * all CPUs together (USER_HZ = 100 on Linux), or undefined.
 */
function stealSeconds(): number | undefined {
  try {
    const steal = Number(readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/)[8]);
    return Number.isFinite(steal) ? steal / 100 : undefined;
  } catch {
    return undefined;
  }
}

type Reply<T extends FromWorker['type']> = Extract<FromWorker, { type: T }>;

/** One worker process: requests answered one at a time. */
class Worker {
  private waiting: { type: string; resolve: (m: FromWorker) => void; reject: (e: Error) => void } | undefined;
  private exited = false;
  constructor(readonly child: ChildProcess) {
    child.on('message', (m: FromWorker) => {
      const w = this.waiting;
      if (!w) return;
      if (m.type === 'failed') w.reject(new Error(`load worker ${child.pid}: ${m.error}`));
      else if (m.type === w.type) w.resolve(m);
      else return;
      this.waiting = undefined;
    });
    child.on('exit', (code, signal) => {
      this.exited = true;
      this.waiting?.reject(new Error(`load worker ${child.pid} exited (${code ?? signal})`));
      this.waiting = undefined;
    });
  }
  get pid(): number {
    return this.child.pid!;
  }
  wait<T extends FromWorker['type']>(type: T, timeoutMs: number, msg?: ToWorker): Promise<Reply<T>> {
    if (this.exited) return Promise.reject(new Error(`load worker ${this.pid} is gone`));
    return new Promise<Reply<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`load worker ${this.pid}: no ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = {
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Reply<T>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      if (msg) this.child.send(msg);
    });
  }
  stop(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      // A worker exits when its IPC channel closes.
      if (this.child.connected) this.child.disconnect();
      else this.child.kill('SIGTERM');
    });
  }
}

/** Load worker processes (loadtest/fleet-load.ts) on this process's Node; they exit with it. */
export interface LoadWorkers {
  pids: number[];
  run(opts: FleetRunOptions): Promise<FleetRun>;
  stop(): Promise<void>;
}

export async function startLoadWorkers(count: number): Promise<LoadWorkers> {
  const workers = Array.from(
    { length: count },
    () =>
      new Worker(
        fork(path.join(root, 'loadtest', 'fleet-load.ts'), [], {
          cwd: root,
          execPath: process.execPath,
          execArgv: ['--import', 'tsx'],
          // Their stdout and stderr go to this process's stderr (stdout carries the tables).
          stdio: ['ignore', 2, 2, 'ipc'],
        }),
      ),
  );
  const stop = () => Promise.all(workers.map((w) => w.stop())).then(() => undefined);
  try {
    await Promise.all(workers.map((w) => w.wait('ready', 30_000)));
  } catch (err) {
    await stop();
    throw err;
  }
  return { pids: workers.map((w) => w.pid), run: (opts) => fleetRun(workers, opts), stop };
}

/** A server process of the run. */
export interface FleetServer {
  name: string;
  url: string;
  pid: number;
}

export interface FleetRunOptions extends Omit<LoadPlan, 'total'> {
  target: string;
  round: number;
  servers: FleetServer[];
  tokens: string[];
  groupSize: number;
  sampleEvery: number;
  warmupSec: number;
  durationSec: number;
  /** CPU seconds Redis has used so far, if known. */
  redisCpu?: () => Promise<number | undefined>;
  log: (msg: string) => void;
}

export interface FleetRun {
  target: string;
  processes: number;
  round: number;
  clients: number;
  rooms: number;
  loadWorkers: number;
  seconds: number;
  offeredPerSec: number;
  sentPerSec: number;
  /** Sends per second the room window held back (the servers or the machine could not take more). */
  heldPerSec: number;
  deliveredPerSec: number;
  /** Deliveries counted between the marks. */
  delivered: number;
  /** The whole run, after the drain: deliveries due (sent × (members − 1)) and counted. */
  total: { sent: number; expected: number; delivered: number; lost: number; extra: number };
  errors: number;
  droppedClients: number;
  errorSamples: string[];
  sample: SampleReport;
  /** Of the sampled (decoding) receivers, in the measured window. */
  latencyMs: { p50: number; p90: number; p99: number; max: number; avg: number };
  servers: {
    name: string;
    host: string;
    rooms: number;
    deliveredPerSec: number;
    cpuSec: number;
    cpuPct: number;
    cpuUsPerDelivery: number;
  }[];
  /** Server CPU time (all processes) per delivery, in µs. */
  serverCpuUsPerDelivery: number;
  /** PROJECTION: deliveries per server CPU-second × processes (each process with a core of its own). */
  projectedCapacityPerSec: number;
  /** % of one core. loadGenerator: the workers and this process. */
  cpuPct: { servers: number; loadGenerator: number; redis?: number; machine?: number; otherProcesses?: number; steal?: number };
  connectSec: number;
}

async function fleetRun(workers: Worker[], opts: FleetRunOptions): Promise<FleetRun> {
  const n = opts.tokens.length;
  const label = `fleet #${opts.round} / ${opts.target} / ${n} clients`;
  const groupCount = Math.ceil(n / opts.groupSize);
  const groups: GroupPlan[] = Array.from({ length: groupCount }, (_, g) => ({
    g,
    url: opts.servers[g % opts.servers.length]!.url,
    first: g * opts.groupSize,
    tokens: opts.tokens.slice(g * opts.groupSize, Math.min(n, (g + 1) * opts.groupSize)),
    sampled: g % opts.sampleEvery === 0 && Math.min(n, (g + 1) * opts.groupSize) - g * opts.groupSize > 1,
  }));
  const plan: LoadPlan = { roomName: opts.roomName, payloadBytes: opts.payloadBytes, rate: opts.rate, window: opts.window, total: n };
  const per = Math.ceil(groupCount / workers.length);
  const all = <T extends FromWorker['type']>(type: T, timeoutMs: number, msg: (i: number) => ToWorker) =>
    Promise.all(workers.map((w, i) => w.wait(type, timeoutMs, msg(i))));

  opts.log(`${label}: connecting (${workers.length} load worker processes)`);
  const t0 = performance.now();
  const joined = await all('joined', 180_000, (i) => ({
    type: 'join',
    plan,
    groups: groups.slice(i * per, (i + 1) * per),
    concurrency: Math.max(2, Math.ceil(16 / workers.length)),
  }));
  const connectSec = (performance.now() - t0) / 1000;
  const roomsByHost: Record<string, number> = {};
  for (const j of joined) for (const h of Object.values(j.hosts)) roomsByHost[h] = (roomsByHost[h] ?? 0) + 1;

  await all('started', 10_000, () => ({ type: 'start' }));
  opts.log(`${label}: warm-up ${opts.warmupSec} s (connected in ${connectSec.toFixed(1)} s)`);
  await sleep(opts.warmupSec * 1000);

  const cpu = async () => ({
    servers: opts.servers.map((s) => cpuSeconds(s.pid) ?? 0),
    workers: workers.reduce((sum, w) => sum + (cpuSeconds(w.pid) ?? 0), 0),
    self: process.cpuUsage(),
    machine: machineBusySeconds(),
    steal: stealSeconds(),
    redis: await opts.redisCpu?.(),
    t: performance.now(),
  });
  const before = await cpu();
  const first = await all('counts', 10_000, () => ({ type: 'mark', measuring: true }));
  opts.log(`${label}: measuring ${opts.durationSec} s`);
  await sleep(opts.durationSec * 1000);
  const second = await all('counts', 10_000, () => ({ type: 'mark', measuring: false }));
  const after = await cpu();

  const t1 = performance.now();
  const stopped = await all('stopped', 20_000, () => ({ type: 'stop', drainMs: 5000 }));
  await all('left', 60_000, () => ({ type: 'leave' }));
  opts.log(`${label}: drained and left in ${((performance.now() - t1) / 1000).toFixed(1)} s`);

  const wall = (after.t - before.t) / 1000;
  const rate = (key: 'sent' | 'held' | 'received') =>
    second.reduce((sum, s, i) => sum + ((s.counts[key] - first[i]!.counts[key]) * 1000) / (s.counts.t - first[i]!.counts.t), 0);
  const byHost: Record<string, number> = {};
  second.forEach((s, i) => {
    for (const [h, v] of Object.entries(s.counts.receivedByHost)) {
      const perSec = ((v - (first[i]!.counts.receivedByHost[h] ?? 0)) * 1000) / (s.counts.t - first[i]!.counts.t);
      byHost[h] = (byHost[h] ?? 0) + perSec;
    }
  });
  const delivered = second.reduce((sum, s, i) => sum + s.counts.received - first[i]!.counts.received, 0);
  const deliveredPerSec = rate('received');
  const servers = opts.servers.map((s, i) => {
    const host = new URL(s.url).host;
    const cpuSec = after.servers[i]! - before.servers[i]!;
    const perSec = byHost[host] ?? 0;
    return {
      name: s.name,
      host,
      rooms: roomsByHost[host] ?? 0,
      deliveredPerSec: perSec,
      cpuSec,
      cpuPct: (cpuSec / wall) * 100,
      cpuUsPerDelivery: perSec > 0 ? (cpuSec * 1e6) / (perSec * wall) : 0,
    };
  });
  const serverCpu = servers.reduce((sum, s) => sum + s.cpuSec, 0);
  const self = process.cpuUsage(before.self);
  const loadGenerator = after.workers - before.workers + (self.user + self.system) / 1e6;
  const cpuPct: FleetRun['cpuPct'] = { servers: (serverCpu / wall) * 100, loadGenerator: (loadGenerator / wall) * 100 };
  if (after.redis !== undefined && before.redis !== undefined) cpuPct.redis = ((after.redis - before.redis) / wall) * 100;
  if (after.machine !== undefined && before.machine !== undefined) {
    cpuPct.machine = ((after.machine - before.machine) / wall) * 100;
    if (after.steal !== undefined && before.steal !== undefined) cpuPct.steal = ((after.steal - before.steal) / wall) * 100;
    // The machine's busy time counts steal too: it is no process's.
    const known = cpuPct.servers + cpuPct.loadGenerator + (cpuPct.redis ?? 0) + (cpuPct.steal ?? 0);
    cpuPct.otherProcesses = Math.max(0, cpuPct.machine - known);
  }

  const histogram = createHistogram();
  const sample: SampleReport = { receivers: 0, verified: 0, gaps: 0, repeats: 0, corrupt: 0, missingAtEnd: 0, problems: [] };
  let expected = 0;
  let received = 0;
  let lost = 0;
  let extra = 0;
  for (const s of stopped) {
    for (const v of s.latenciesUs) histogram.record(v);
    for (const k of ['receivers', 'verified', 'gaps', 'repeats', 'corrupt', 'missingAtEnd'] as const) sample[k] += s.sample[k];
    sample.problems.push(...s.sample.problems.slice(0, 10 - sample.problems.length));
    expected += s.expected;
    received += s.received;
    lost += s.lost;
    extra += s.extra;
  }
  const errorSamples = stopped.flatMap((s) => s.errorSamples).slice(0, 5);
  if (errorSamples.length > 0) opts.log(`${label}: errors, e.g. ${errorSamples.join(' | ')}`);
  const { p50, p90, p99, max, avg } = percentiles(histogram);
  const usPerDelivery = delivered > 0 ? (serverCpu * 1e6) / delivered : 0;
  return {
    target: opts.target,
    processes: opts.servers.length,
    round: opts.round,
    clients: n,
    rooms: groupCount,
    loadWorkers: workers.length,
    seconds: wall,
    offeredPerSec: n * opts.rate,
    sentPerSec: rate('sent'),
    heldPerSec: rate('held'),
    deliveredPerSec,
    delivered,
    total: { sent: stopped.reduce((s, x) => s + x.counts.sent, 0), expected, delivered: received, lost, extra },
    errors: stopped.reduce((s, x) => s + x.counts.errors, 0),
    droppedClients: stopped.reduce((s, x) => s + x.counts.dropped, 0),
    errorSamples,
    sample,
    latencyMs: { p50, p90, p99, max, avg },
    servers,
    serverCpuUsPerDelivery: usPerDelivery,
    projectedCapacityPerSec: usPerDelivery > 0 ? (1e6 / usPerDelivery) * opts.servers.length : 0,
    cpuPct,
    connectSec,
  };
}

/** Problems that void a run: lost, repeated or corrupt messages, errors, drops, nothing verified. */
export function fleetProblems(label: string, r: FleetRun): string[] {
  const out: string[] = [];
  const { total: t, sample: s } = r;
  if (t.lost + t.extra > 0 || r.errors > 0 || r.droppedClients > 0)
    out.push(
      `${label}: ${t.lost} of ${t.expected} deliveries missing after the drain, ${t.extra} beyond what rooms were due, ` +
        `${r.errors} errors, ${r.droppedClients} clients dropped`,
    );
  if (s.gaps + s.repeats + s.corrupt + s.missingAtEnd > 0)
    out.push(
      `${label}: sampled SDK receivers found ${s.gaps} gaps, ${s.repeats} repeats, ${s.corrupt} corrupt, ${s.missingAtEnd} missing` +
        (s.problems.length > 0 ? ` (e.g. ${s.problems.slice(0, 3).join('; ')})` : ''),
    );
  if (s.verified === 0) out.push(`${label}: no message was verified by a decoding receiver`);
  if (r.delivered === 0) out.push(`${label}: nothing was delivered`);
  return out;
}
