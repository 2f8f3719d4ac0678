/**
 * Idle scenario (milestone M1.8): what an idle authenticated realtime session costs Tavern, beside a
 * bare `ws` server (loadtest/idle-ws-baseline.ts) holding the same number of idle WebSockets, in the
 * same run.
 *
 * - Memory: with `sessions` (BENCH_IDLE_SESSIONS, 5000) connections, the server child's RSS
 *   (/proc/<pid>/status VmRSS) and V8 heap (Tavern: `nodejs_heap_size_*_bytes` of /metrics; the
 *   baseline: its /memory) before connecting and after connecting plus a `settleSec`
 *   (BENCH_IDLE_SETTLE, 3 s) wait;
 *   bytes per connection = (after − before) / connections, and Tavern's against the baseline's.
 * - CPU: with `cpuSessions` (BENCH_IDLE_CPU_SESSIONS, 10000) connections — or the most this
 *   process's file descriptor limit allows, said in the table — the server child's CPU over
 *   `cpuSec` (BENCH_IDLE_CPU_SEC, 30 s: two ping periods, so every window holds as many ping rounds)
 *   of idleness, from /proc/<pid>/stat, in % of one core.
 *
 * Tavern's clients (loadtest/idle-clients.ts) are `@colyseus/sdk` clients in this process, each
 * `create('session')` with its own session token (a session holds one session room): `accounts`
 * (BENCH_IDLE_ACCOUNTS, 500) device accounts are authenticated over HTTP, each several times, one
 * session per authentication (TAVERN_SINGLE_SOCKET stays false, its default). The baseline's
 * clients are raw `ws` clients
 * (it speaks no Colyseus protocol). Servers run one after the other against the same clients'
 * process, Tavern first; both are started before either is measured. Presence is local unless
 * `redisUrl` (BENCH_IDLE_REDIS_URL) is given. Both servers ping each client every `pingMs`
 * (BENCH_IDLE_PING_MS, 15000: Tavern's default TAVERN_PING_INTERVAL_MS, Nakama's ping period).
 *
 * Run alone: `npx tsx loadtest/idle.ts` (throwaway PostgreSQL cluster).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDatabase, startPostgres } from '../test/support/postgres.js';
import { freePort } from '../test/support/ports.js';
import { fdLimit, raiseFdLimit, sessionTokens, tavernFleet, wsFleet, type Fleet } from './idle-clients.js';
import { CPU_TARGET_PCT, idleMarkdown, MEMORY_TARGET_RATIO } from './idle-report.js';
import { writeResults } from './report.js';
import { cpuSeconds, fmt, machine, machineBusySeconds, startChildServer, tavernEnv, type ChildServer } from './support.js';

export interface IdleBenchOptions {
  /** A database for Tavern (device accounts are written). */
  databaseUrl: string;
  /** Connections of the memory measurement. */
  sessions: number;
  /** Connections of the CPU measurement (capped by the file descriptor limit). */
  cpuSessions: number;
  /** Seconds of idleness over which CPU is measured. */
  cpuSec: number;
  /** Seconds to wait after connecting before memory is read. */
  settleSec: number;
  /** Distinct device accounts; each is authenticated ⌈sessions / accounts⌉ times. */
  accounts: number;
  /** Redis for Tavern's presence and driver; local presence when absent. */
  redisUrl?: string | undefined;
  /** Both servers' ping interval in ms (Tavern's TAVERN_PING_INTERVAL_MS; 0: none). */
  pingMs: number;
  /** CPU list to pin both servers to (taskset), if any. */
  cpus?: string | undefined;
  layout: string;
  log: (msg: string) => void;
}

export interface IdleMemory {
  connections: number;
  rssBefore: number;
  rssAfter: number;
  /** V8 heap used. */
  heapBefore: number;
  heapAfter: number;
  /** V8 heap committed (used plus the free space V8 keeps; part of RSS). */
  heapTotalBefore: number;
  heapTotalAfter: number;
  /** (rssAfter − rssBefore) / connections. */
  rssPerConnection: number;
  heapPerConnection: number;
  heapTotalPerConnection: number;
}

export interface IdleCpu {
  connections: number;
  seconds: number;
  /** % of one core. */
  serverPct: number;
  loadGeneratorPct: number;
  otherProcessesPct?: number;
  rss: number;
}

export interface IdleTarget {
  target: 'tavern' | 'ws';
  connectSec: number;
  memory: IdleMemory;
  cpu: IdleCpu;
  /** Clients closed by the server during the run. */
  dropped: number;
  errors: number;
}

export interface IdleResults {
  tavern: IdleTarget;
  ws: IdleTarget;
  memoryRatio: number;
  meetsMemoryTarget: boolean;
  meetsCpuTarget: boolean;
  fdLimit: number;
  notes: string[];
}

/**
 * NODE_OPTIONS for a server child: `--expose-gc` and a preload that runs a full garbage collection
 * on SIGUSR2, so memory is read after a forced collection rather than wherever V8 happens to be.
 */
const GC_ON_SIGUSR2 = `--expose-gc --import=data:text/javascript,process.on('SIGUSR2',()=>globalThis.gc?.())`;

/** A full GC in the child (see GC_ON_SIGUSR2), then a moment for the kernel's RSS to follow. */
async function forceGc(pid: number): Promise<void> {
  process.kill(pid, 'SIGUSR2');
  await sleep(500);
  process.kill(pid, 'SIGUSR2');
  await sleep(1000);
}

/** VmRSS of a process in bytes. */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** V8 heap in use, and committed (what the heap holds of RSS, free space included). */
interface Heap {
  used: number;
  total: number;
}

async function tavernHeap(url: string): Promise<Heap> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const metric = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  return { used: metric('nodejs_heap_size_used_bytes'), total: metric('nodejs_heap_size_total_bytes') };
}

async function wsHeap(url: string): Promise<Heap> {
  const body = (await (await fetch(`${url}/memory`)).json()) as { heapUsed: number; heapTotal: number };
  return { used: body.heapUsed, total: body.heapTotal };
}

/** Memory before/after `sessions` connections, then CPU at `cpuSessions`, then close them all. */
async function measure(
  target: 'tavern' | 'ws',
  server: ChildServer,
  fleet: Fleet,
  heap: () => Promise<Heap>,
  opts: IdleBenchOptions,
  cpuSessions: number,
): Promise<IdleTarget> {
  const { log } = opts;
  try {
    await sleep(opts.settleSec * 1000);
    await forceGc(server.pid);
    const rssBefore = rss(server.pid);
    const heapBefore = await heap();
    log(`idle/${target}: connecting ${fmt(opts.sessions)} clients`);
    const t0 = Date.now();
    await fleet.open(opts.sessions);
    const connectSec = (Date.now() - t0) / 1000;
    await sleep(opts.settleSec * 1000);
    await forceGc(server.pid);
    const heapAfter = await heap();
    const n = fleet.size();
    const rssAfter = rss(server.pid);
    const memory: IdleMemory = {
      connections: n,
      rssBefore,
      rssAfter,
      heapBefore: heapBefore.used,
      heapAfter: heapAfter.used,
      heapTotalBefore: heapBefore.total,
      heapTotalAfter: heapAfter.total,
      rssPerConnection: (rssAfter - rssBefore) / n,
      heapPerConnection: (heapAfter.used - heapBefore.used) / n,
      heapTotalPerConnection: (heapAfter.total - heapBefore.total) / n,
    };
    log(`idle/${target}: ${fmt(memory.rssPerConnection)} B RSS per connection; connecting up to ${fmt(cpuSessions)} clients`);

    if (cpuSessions > fleet.size()) await fleet.open(cpuSessions);
    await sleep(opts.settleSec * 1000);
    log(`idle/${target}: ${fmt(fleet.size())} idle clients, measuring CPU for ${opts.cpuSec} s`);
    const s0 = cpuSeconds(server.pid) ?? NaN;
    const l0 = process.cpuUsage();
    const m0 = machineBusySeconds();
    const w0 = performance.now();
    await sleep(opts.cpuSec * 1000);
    const wall = (performance.now() - w0) / 1000;
    const server1 = cpuSeconds(server.pid) ?? NaN;
    const l = process.cpuUsage(l0);
    const m1 = machineBusySeconds();
    const serverSec = server1 - s0;
    const loadSec = (l.user + l.system) / 1e6;
    const cpu: IdleCpu = {
      connections: fleet.size(),
      seconds: wall,
      serverPct: (serverSec / wall) * 100,
      loadGeneratorPct: (loadSec / wall) * 100,
      rss: rss(server.pid),
    };
    if (m0 !== undefined && m1 !== undefined) cpu.otherProcessesPct = Math.max(0, ((m1 - m0 - serverSec - loadSec) / wall) * 100);
    return { target, connectSec, memory, cpu, dropped: fleet.dropped(), errors: fleet.errors() };
  } finally {
    log(`idle/${target}: closing ${fmt(fleet.size())} clients`);
    await fleet.closeAll();
  }
}

export async function idleBench(
  opts: IdleBenchOptions,
): Promise<{ results: IdleResults; table: string; file: string; problems: string[] }> {
  const { log } = opts;
  const notes: string[] = [];
  raiseFdLimit(65536);
  const limit = fdLimit();
  // This process holds every client socket of one server at a time, plus HTTP and a margin.
  let cpuSessions = Math.max(opts.sessions, opts.cpuSessions);
  if (cpuSessions + 500 > limit) {
    cpuSessions = Math.max(opts.sessions, limit - 500);
    notes.push(`CPU measured at ${fmt(cpuSessions)} connections, not ${fmt(opts.cpuSessions)}: this process may open ${fmt(limit)} files.`);
  }
  const cleanups: (() => Promise<void>)[] = [];
  let tavern: IdleTarget;
  let baseline: IdleTarget;
  try {
    const tavernPort = await freePort();
    log(`idle: starting Tavern (${opts.redisUrl ? 'Redis presence' : 'local presence'})`);
    const startTavern = () =>
      startChildServer({
        name: 'Tavern',
        script: 'src/main.ts',
        port: tavernPort,
        cpus: opts.cpus,
        env: tavernEnv(tavernPort, opts.databaseUrl, {
          ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {}),
          TAVERN_SINGLE_SOCKET: 'false',
          TAVERN_PING_INTERVAL_MS: String(opts.pingMs),
          NODE_OPTIONS: GC_ON_SIGUSR2,
        }),
      });
    // Sessions are authenticated against a first Tavern process, then it is replaced by a fresh one
    // on the same database (the tokens stay valid): thousands of logins grow a process's heap, and
    // pages a collection frees stay resident, so connections measured afterwards would reuse them and
    // look cheaper than they are.
    const issuer = await startTavern();
    cleanups.push(() => issuer.stop());
    const tokens = await sessionTokens(issuer.url, cpuSessions, opts.accounts, log);
    await issuer.stop();
    const server = await startTavern();
    cleanups.push(() => server.stop());
    const wsPort = await freePort();
    log('idle: starting the ws baseline');
    const ws = await startChildServer({
      name: 'ws baseline',
      script: 'loadtest/idle-ws-baseline.ts',
      port: wsPort,
      cpus: opts.cpus,
      env: { PORT: String(wsPort), PING_MS: String(opts.pingMs), NODE_OPTIONS: GC_ON_SIGUSR2 },
    });
    cleanups.push(() => ws.stop());

    tavern = await measure('tavern', server, tavernFleet(server.url, tokens), () => tavernHeap(server.url), opts, cpuSessions);
    baseline = await measure('ws', ws, wsFleet(ws.url), () => wsHeap(ws.url), opts, cpuSessions);
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log(`idle cleanup: ${(err as Error).message}`));
  }

  const memoryRatio = tavern.memory.rssPerConnection / baseline.memory.rssPerConnection;
  const results: IdleResults = {
    tavern,
    ws: baseline,
    memoryRatio,
    meetsMemoryTarget: memoryRatio <= MEMORY_TARGET_RATIO,
    meetsCpuTarget: tavern.cpu.serverPct < CPU_TARGET_PCT,
    fdLimit: limit,
    notes,
  };
  const problems: string[] = [];
  for (const t of [tavern, baseline]) {
    if (t.memory.connections < opts.sessions) problems.push(`idle/${t.target}: only ${t.memory.connections} of ${opts.sessions} connected`);
    if (t.dropped > 0) problems.push(`idle/${t.target}: the server closed ${t.dropped} idle clients`);
    if (t.errors > 0) problems.push(`idle/${t.target}: ${t.errors} client errors`);
  }
  const info = machine();
  const table = idleMarkdown(results, opts, info);
  const file = writeResults('idle', {
    benchmark: 'Idle sessions: memory and CPU per connection',
    date: new Date().toISOString(),
    machine: info,
    settings: {
      sessions: opts.sessions,
      cpuSessions,
      cpuSec: opts.cpuSec,
      settleSec: opts.settleSec,
      accounts: opts.accounts,
      presence: opts.redisUrl ? 'redis' : 'local',
      clients: 'Tavern: @colyseus/sdk create("session"), one session token each; baseline: raw ws clients',
      pingMs: opts.pingMs,
      layout: opts.layout,
    },
    results,
    problems,
  });
  return { results, table, file, problems };
}

/** The scenario's BENCH_IDLE_* settings (the same for `npm run bench` and a run of this file alone). */
export function idleSettings(
  env: NodeJS.ProcessEnv,
): Pick<IdleBenchOptions, 'sessions' | 'cpuSessions' | 'cpuSec' | 'settleSec' | 'accounts' | 'redisUrl' | 'pingMs'> {
  const num = (name: string, d: number) => {
    const v = env[name] ? Number(env[name]) : d;
    if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a number ≥ 0`);
    return v;
  };
  return {
    sessions: num('BENCH_IDLE_SESSIONS', 5000),
    cpuSessions: num('BENCH_IDLE_CPU_SESSIONS', 10_000),
    cpuSec: num('BENCH_IDLE_CPU_SEC', 30),
    settleSec: num('BENCH_IDLE_SETTLE', 3),
    accounts: num('BENCH_IDLE_ACCOUNTS', 500),
    redisUrl: env.BENCH_IDLE_REDIS_URL || undefined,
    // 0 turns pings off on both servers.
    pingMs: num('BENCH_IDLE_PING_MS', 15_000),
  };
}

/** `npx tsx loadtest/idle.ts`: a throwaway PostgreSQL cluster, then the scenario. */
async function main(): Promise<void> {
  const log = (msg: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
  log('starting a throwaway PostgreSQL cluster');
  const cluster = await startPostgres();
  try {
    const { table, file, problems } = await idleBench({
      databaseUrl: await createDatabase(cluster.url(), 'bench_idle'),
      ...idleSettings(process.env),
      layout: 'load generator and servers share all cores (no pinning)',
      log,
    });
    process.stdout.write(`\n${table}\n\nResults: ${file}\n`);
    if (problems.length > 0) {
      process.stdout.write(`\n!!! ${problems.join('\n!!! ')}\n`);
      process.exitCode = 1;
    }
  } finally {
    await cluster.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) await main();
