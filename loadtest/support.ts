/**
 * Helpers for the benchmarks: child servers (optionally pinned to cores with `taskset`), waiting for
 * a health check, CPU time of processes from /proc, the schema's DDL, one-off SQL, a bounded
 * concurrency pool, latency percentiles and a description of the machine.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RecordableHistogram } from 'node:perf_hooks';
import pg from 'pg';
import { migrations } from '../src/entities/index.js';
import { startRedis, type TestRedis } from '../test/support/redis.js';

export const root = path.resolve(import.meta.dirname, '..');

/** Whether `taskset` (util-linux) is available to pin processes to cores. */
export function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Pins every thread of a running process to a CPU list such as `0` or `0,1`. */
export function pinProcess(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-cp', cpus, String(pid)], { stdio: 'ignore' });
}

/** Everything this process started that must not outlive it: `stopAll` runs them (bench.ts, on SIGINT/SIGTERM too). */
const running = new Set<() => Promise<void>>();

/** Stops every child server and throwaway Redis still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((stop) => stop().catch(() => undefined)));
}

/** A throwaway redis-server (test/support/redis.ts) that `stopAll` stops too. */
export async function throwawayRedis(): Promise<TestRedis> {
  const redis = await startRedis();
  let stopped: Promise<void> | undefined;
  const stop = () => {
    running.delete(stop);
    return (stopped ??= redis.stop());
  };
  running.add(stop);
  return { url: redis.url, stop };
}

/** A server running as a child process. */
export interface ChildServer {
  name: string;
  url: string;
  pid: number;
  /** The last lines it wrote to stdout and stderr, for error messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Spawns `node --import tsx <script>` with the same Node as this process, pinned to `cpus` when given,
 * and waits until `GET <url>/healthcheck` answers 200.
 */
export async function startChildServer(opts: {
  name: string;
  script: string;
  port: number;
  env: Record<string, string>;
  cpus?: string | undefined;
  timeoutMs?: number;
}): Promise<ChildServer> {
  const nodeArgs = ['--import', 'tsx', opts.script];
  const [cmd, args] = opts.cpus ? ['taskset', ['-c', opts.cpus, process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const keep = (b: Buffer) => {
    lines.push(...b.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${opts.port}`;
  const server: ChildServer = {
    name: opts.name,
    url,
    pid: child.pid!,
    output: () => lines.join('\n'),
    stop: () => {
      running.delete(server.stop);
      return stopChild(child);
    },
  };
  running.add(server.stop);
  try {
    await waitHealthy(url, child, opts.timeoutMs ?? 60_000);
  } catch (err) {
    await server.stop();
    throw new Error(`${opts.name} did not start: ${(err as Error).message}\n--- its output ---\n${server.output()}`);
  }
  return server;
}

async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited with ${child.exitCode ?? child.signalCode}`);
    try {
      const res = await fetch(`${url}/healthcheck`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`no healthy answer from ${url} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM, then SIGKILL after 5 s. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds of a process (all its threads), or undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return undefined;
  }
}

/** CPU seconds of a PostgreSQL cluster: the postmaster and each of its children, by pid. */
export function clusterCpu(dataDir: string): Map<number, number> {
  const out = new Map<number, number>();
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return out;
  const postmaster = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  const own = cpuSeconds(postmaster);
  if (own !== undefined) out.set(postmaster, own);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== postmaster) continue;
      out.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / TICKS);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** CPU seconds the cluster spent between two `clusterCpu` samples (processes born meanwhile count whole). */
export function clusterCpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, t] of after) sum += t - (before.get(pid) ?? 0);
  return sum;
}

/** CPU seconds the whole machine has spent busy (every core, every process), from /proc/stat. */
export function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    // cpu user nice system idle iowait irq softirq steal …
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / TICKS;
  } catch {
    return undefined;
  }
}

/** The SQL of Tavern's migrations, in order, captured without a database or MikroORM driver. */
export function migrationSql(): string[] {
  const out: string[] = [];
  for (const m of migrations) {
    const instance = Object.create(m.class.prototype as object) as { up(): void | Promise<void>; addSql?: (sql: string) => void };
    instance.addSql = (sql: string) => void out.push(sql);
    void instance.up();
  }
  return out;
}

/** CPU model, core count, Node version, OS. */
export function machine(): { cpu: string; cores: number; node: string; os: string } {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
  };
}

/** Runs one statement on a fresh connection. */
export async function sql(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Latency percentiles in ms of a histogram recorded in µs. */
export function percentiles(h: RecordableHistogram): { p50: number; p90: number; p95: number; p99: number; max: number; avg: number } {
  const ms = (v: number) => (Number.isFinite(v) ? v / 1000 : 0);
  return {
    p50: ms(h.percentile(50)),
    p90: ms(h.percentile(90)),
    p95: ms(h.percentile(95)),
    p99: ms(h.percentile(99)),
    max: ms(h.max),
    avg: ms(h.mean),
  };
}

/** `n` formatted with thousands separators and `digits` decimals. */
export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** `p`, or a rejection after `ms` (an SDK join or leave whose socket closed early never settles). */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}

/**
 * The environment of a Tavern server a benchmark starts: its port and database, no per-IP rate
 * limit (every client comes from this machine), day-long tokens, warnings only (JSON), a 2 s drain
 * and the development defaults. `extra` adds settings or overrides these.
 */
export function tavernEnv(port: number, databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TAVERN_PORT: String(port),
    DATABASE_URL: databaseUrl,
    TAVERN_RATE_LIMIT_REQUESTS: '0',
    TAVERN_TOKEN_EXPIRY_SEC: '86400',
    TAVERN_LOG_LEVEL: 'warn',
    TAVERN_LOG_FORMAT: 'json',
    TAVERN_SHUTDOWN_GRACE_SEC: '2',
    NODE_ENV: 'development',
    ...extra,
  };
}
