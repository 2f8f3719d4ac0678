/**
 * Driver scenario of `npm run bench`: join latency with many session rooms online, Tavern's Redis
 * room registry against the stock `@colyseus/redis-driver` RedisDriver, in the same run.
 *
 * Four Tavern child processes run side by side (loadtest/driver-server.ts: startServer with the
 * driver chosen by BENCH_DRIVER, the bench's own runtime module only): Tavern's driver and the stock
 * one, each with 0 and with BENCH_DRIVER_SESSIONS (10,000) session rooms listed. Each has its own
 * throwaway redis-server (REDIS_URL; processes sharing a Redis would form one fleet and take each
 * other's rooms) and its own TAVERN_PUBLIC_ADDRESS; all share one PostgreSQL database and the same
 * core when pinned. Before it reports ready, a process records its session listings through its
 * driver (initializeRoomCache + insert/persist, the way Colyseus records a room; listings of its own
 * live process, not real sessions: 10,000 WebSockets would measure the load generator). Then, with
 * `@colyseus/sdk` clients of device-authenticated users, BENCH_DRIVER_CONCURRENCY (16) at a time:
 * - chat join: BENCH_DRIVER_JOINS (1000) `create('chat', { type: 1, target })` in channels of
 *   BENCH_DRIVER_CHANNEL_SIZE (4): each chunk (below) of L joins has ⌈L / 4⌉ channels of its own,
 *   join x of the chunk going to channel x mod that count — the first pass creates the rooms, the
 *   others find them (with insert-if-absent, the loser of a create race joins the winner's room).
 *   This is how Tavern clients join a channel; a plain `joinOrCreate('chat')` would match any
 *   channel's room (chat rooms have no filterBy). After each chunk every member must see the
 *   channel's full member list; a channel split over two rooms is counted (expected on a driver
 *   without insert-if-absent, a problem on Tavern's);
 * - session join: as many `create('session')` (a room per session, created and joined);
 * - match list: BENCH_DRIVER_LISTS (500) `GET /v2/match?limit=10` (matchMaker.query by room name,
 *   no match open: the cost is finding the matches among all listings).
 * Each phase is split into BENCH_DRIVER_ROUNDS (4) chunks; each round runs a chunk on every process
 * in turn (the order rotating), so a busy moment of a shared machine hits every configuration alike;
 * clients leave after each chunk (untimed), so the processes not measured hold no rooms. Before the
 * rounds, every process gets an untimed warm-up chunk of a quarter of a round.
 * Latency is from the call to the joined room (HTTP matchmaking + WebSocket + join) or the HTTP
 * answer; ops/s is operations over the time spent on that process's chunks. Server and Redis CPU per operation
 * come from /proc and Redis `INFO cpu` (PostgreSQL's from /proc when the cluster is the bench's own);
 * "other processes" is the rest of the machine (the idle servers, anything else running: a busy
 * machine shows there).
 */
import { randomBytes } from 'node:crypto';
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Room } from '@colyseus/sdk';
import { driverMarkdown, type Op, type OpRun, type ServerRow } from './driver-report.js';
import { startTarget, stopTarget, type Target } from './driver-targets.js';
import { deviceTokens, sdkClient } from './relay-run.js';
import { redisCpu } from './redis-tools.js';
import { writeResults } from './report.js';
import { clusterCpu, clusterCpuDelta, cpuSeconds, machine, machineBusySeconds, percentiles, pool, withTimeout } from './support.js';

export interface DriverBenchOptions {
  /** One database for every Tavern process of the scenario. */
  databaseUrl: string;
  joins: number;
  /** `GET /v2/match` calls per row. */
  lists: number;
  concurrency: number;
  /** Chunks each phase is split into, run on every server in turn. */
  rounds: number;
  sessions: number;
  channelSize: number;
  /** The throwaway PostgreSQL cluster's data directory, to count its CPU apart (else it is "other"). */
  pgDataDir?: string | undefined;
  /** CPU list for the server (taskset), if pinned. */
  cpus?: string | undefined;
  layout: string;
  log: (msg: string) => void;
}

export async function driverBench(opts: DriverBenchOptions): Promise<{ table: string; file: string; problems: string[] }> {
  const { log } = opts;
  const runId = randomBytes(4).toString('hex');
  const runs: OpRun[] = [];
  const errorSamples: string[] = [];
  const targets: Target[] = [];
  try {
    for (const sessions of [0, opts.sessions]) {
      for (const kind of ['tavern', 'stock'] as const) targets.push(await startTarget(opts, kind, sessions, runId));
    }
    log(`driver: authenticating ${opts.joins} devices`);
    const tokens = await deviceTokens(targets[0]!.server.url, opts.joins, `bench-driver-${runId}`);
    runs.push(...(await chatJoins(opts, targets, tokens, errorSamples)));
    runs.push(...(await sessionJoins(opts, targets, tokens, errorSamples)));
    runs.push(...(await matchLists(opts, targets, tokens, errorSamples)));
  } finally {
    for (const t of targets) await stopTarget(t).catch(() => undefined);
  }

  const servers: ServerRow[] = targets.map((t) => ({ driver: t.kind, sessions: t.sessions, ready: t.ready }));
  const problems: string[] = [];
  const classes = new Set(servers.map((s) => `${s.driver}:${s.ready.driver}`));
  const tavernClass = servers.find((s) => s.driver === 'tavern')?.ready.driver;
  const stockClass = servers.find((s) => s.driver === 'stock')?.ready.driver;
  if (tavernClass === stockClass)
    problems.push(
      `driver: the Tavern row ran ${tavernClass}, the same class as the stock row (is src/rooms/redis.driver.ts wired into server.ts?)`,
    );
  for (const s of servers) {
    if (s.ready.listedSessions !== s.sessions || s.ready.recorded !== s.sessions)
      problems.push(
        `driver/${s.driver}/${s.sessions}: ${s.ready.recorded} listings recorded (${s.ready.refused} refused), ${s.ready.listedSessions} listed, expected ${s.sessions}`,
      );
  }
  for (const r of runs) {
    // The stock driver has no insert-if-absent: its chat joins are expected to split channels and to
    // fail ("seat reservation expired" when a duplicate room replaced the one holding the seat).
    // That is a finding, printed with the table; anything else failing voids the numbers.
    if (r.driver === 'stock' && r.op === 'chat join') continue;
    if (r.errors > 0) problems.push(`driver/${r.driver}/${r.sessions}/${r.op}: ${r.errors} of ${r.n} failed`);
    if (r.warmupErrors > 0) problems.push(`driver/${r.driver}/${r.sessions}/${r.op}: ${r.warmupErrors} warm-up operations failed`);
    if ((r.splitChannels ?? 0) > 0)
      problems.push(`driver/${r.driver}/${r.sessions}/${r.op}: ${r.splitChannels} channels split over several rooms`);
  }
  if (errorSamples.length > 0) log(`driver: errors, e.g. ${[...new Set(errorSamples)].slice(0, 5).join(' | ')}`);
  const info = machine();
  const table = driverMarkdown(runs, servers, opts, info);
  const file = writeResults('driver', {
    benchmark: `Join latency with ${opts.sessions} session rooms listed, Tavern driver against the stock RedisDriver`,
    date: new Date().toISOString(),
    machine: info,
    settings: {
      joins: opts.joins,
      lists: opts.lists,
      concurrency: opts.concurrency,
      rounds: opts.rounds,
      sessions: opts.sessions,
      channelSize: opts.channelSize,
      layout: opts.layout,
      population: 'driver.insert (or persist(create)) of initializeRoomCache session listings of the live process, no room objects',
      drivers: [...classes],
    },
    servers,
    runs,
    problems,
    errorSamples: errorSamples.slice(0, 20),
  });
  return { table, file, problems };
}

/** What one target accumulates over the rounds of a phase. */
interface Tally {
  histogram: RecordableHistogram;
  n: number;
  errors: number;
  /** Failures of the untimed warm-up. */
  warmupErrors: number;
  seconds: number;
  serverCpu: number;
  redisCpu: number;
  postgresCpu: number | undefined;
  other: number | undefined;
}

/** A slice of a phase's operations; a warm-up chunk is untimed and its checks do not count. */
interface Chunk {
  from: number;
  to: number;
  warm?: boolean;
}

/**
 * `n` operations per target, `concurrency` at a time, split into `rounds` chunks; each round runs a
 * chunk on every target in turn (the order rotating), so a busy moment of the machine hits all alike.
 */
async function interleaved(
  opts: DriverBenchOptions,
  targets: Target[],
  op: Op,
  n: number,
  errorSamples: string[],
  fn: (t: Target, j: number, chunk: Chunk) => Promise<void>,
  /** After each chunk, untimed: checks, then leaving the rooms (idle processes must not hold rooms). */
  after?: (t: Target, i: number, chunk: Chunk) => Promise<void>,
): Promise<OpRun[]> {
  const tallies = targets.map((): Tally => ({
    histogram: createHistogram(),
    n: 0,
    errors: 0,
    warmupErrors: 0,
    seconds: 0,
    serverCpu: 0,
    redisCpu: 0,
    postgresCpu: opts.pgDataDir ? 0 : undefined,
    other: 0,
  }));
  const rounds = Math.max(1, Math.min(opts.rounds, n));
  opts.log(`driver: ${n} × ${op} on each of ${targets.length} servers, in ${rounds} interleaved rounds`);
  // Warm-up, untimed: a fresh process (and the load generator) runs its first requests cold.
  const warm: Chunk = { from: 0, to: Math.min(n, Math.max(1, Math.floor(n / rounds / 4))), warm: true };
  for (const [i, t] of targets.entries()) {
    await pool(
      Array.from({ length: warm.to }, (_, x) => x),
      opts.concurrency,
      (j) =>
        withTimeout(fn(t, j, warm), 15_000).catch((err: unknown) => {
          tallies[i]!.warmupErrors++;
          errorSamples.push(`${op} (warm-up): ${(err as Error).message}`);
        }),
    );
    await after?.(t, i, warm);
    await settle(t.server.pid);
  }
  for (let r = 0; r < rounds; r++) {
    const from = Math.floor((r * n) / rounds);
    const to = Math.floor(((r + 1) * n) / rounds);
    for (let k = 0; k < targets.length; k++) {
      const i = (k + r) % targets.length;
      const t = targets[i]!;
      const tally = tallies[i]!;
      const cpuBefore = cpuSeconds(t.server.pid) ?? 0;
      const redisBefore = await redisCpu(t.redis);
      const pgBefore = opts.pgDataDir ? clusterCpu(opts.pgDataDir) : undefined;
      const genBefore = process.cpuUsage();
      const machineBefore = machineBusySeconds();
      const t0 = performance.now();
      await pool(
        Array.from({ length: to - from }, (_, x) => from + x),
        opts.concurrency,
        async (j) => {
          const start = performance.now();
          try {
            await withTimeout(fn(t, j, { from, to }), 15_000);
            tally.histogram.record(Math.max(1, Math.round((performance.now() - start) * 1000)));
          } catch (err) {
            tally.errors++;
            errorSamples.push(`${op}: ${(err as Error).message}`);
          }
        },
      );
      const seconds = (performance.now() - t0) / 1000;
      const serverCpu = (cpuSeconds(t.server.pid) ?? cpuBefore) - cpuBefore;
      const redisUsed = (await redisCpu(t.redis)) - redisBefore;
      const gen = process.cpuUsage(genBefore);
      const pgUsed = pgBefore && opts.pgDataDir ? clusterCpuDelta(pgBefore, clusterCpu(opts.pgDataDir)) : 0;
      const machineAfter = machineBusySeconds();
      tally.n += to - from;
      if (tally.postgresCpu !== undefined) tally.postgresCpu += pgUsed;
      tally.seconds += seconds;
      tally.serverCpu += serverCpu;
      tally.redisCpu += redisUsed;
      tally.other =
        tally.other !== undefined && machineBefore !== undefined && machineAfter !== undefined
          ? tally.other + Math.max(0, machineAfter - machineBefore - serverCpu - redisUsed - pgUsed - (gen.user + gen.system) / 1e6)
          : undefined;
      await after?.(t, i, { from, to });
      await settle(t.server.pid);
    }
  }
  return targets.map((t, i) => {
    const tally = tallies[i]!;
    const ok = tally.n - tally.errors;
    return {
      driver: t.kind,
      driverClass: t.ready.driver,
      sessions: t.sessions,
      op,
      n: tally.n,
      ok,
      errors: tally.errors,
      warmupErrors: tally.warmupErrors,
      seconds: tally.seconds,
      opsPerSec: ok / tally.seconds,
      latencyMs: percentiles(tally.histogram),
      serverCpuMsPerOp: ok > 0 ? (tally.serverCpu * 1000) / ok : 0,
      redisCpuMsPerOp: ok > 0 ? (tally.redisCpu * 1000) / ok : 0,
      ...(tally.postgresCpu === undefined ? {} : { postgresCpuMsPerOp: ok > 0 ? (tally.postgresCpu * 1000) / ok : 0 }),
      ...(tally.other === undefined ? {} : { otherCpuPct: (tally.other / tally.seconds) * 100 }),
    };
  });
}

/** Waits (up to 10 s) until a process is nearly idle: disposing the rooms of a chunk must not overlap the next chunk. */
async function settle(pid: number): Promise<void> {
  const until = performance.now() + 10_000;
  while (performance.now() < until) {
    const before = cpuSeconds(pid) ?? 0;
    await sleep(250);
    if ((cpuSeconds(pid) ?? before) - before < 0.025) return;
  }
}

async function leaveAll(rooms: (Room | undefined)[]): Promise<void> {
  // A room whose socket already closed never answers its leave.
  await Promise.all(rooms.map((r) => (r ? withTimeout(r.leave(true), 5000).catch(() => undefined) : undefined)));
  await sleep(300);
}

/**
 * Chat joins, chunk by chunk: a chunk of L joins covers ⌈L / channel size⌉ channels of its own,
 * join x of the chunk going to channel x mod that count (the first pass creates the rooms, the
 * others find them). After a chunk, untimed: every member must see its channel's full member list
 * (a member of a split channel sees fewer), then everyone leaves.
 */
async function chatJoins(opts: DriverBenchOptions, targets: Target[], tokens: string[], errorSamples: string[]): Promise<OpRun[]> {
  const rooms: (Room | undefined)[][] = targets.map(() => []);
  const split = targets.map(() => 0);
  const channelOf = (j: number, chunk: Chunk) => {
    const count = Math.max(1, Math.ceil((chunk.to - chunk.from) / opts.channelSize));
    return chunk.from + ((j - chunk.from) % count);
  };
  const join = async (t: Target, j: number, chunk: Chunk) => {
    rooms[targets.indexOf(t)]![j] = await sdkClient(t.server.url, tokens[j]).create('chat', {
      type: 1,
      target: `bench-${t.tag}-${chunk.warm ? 'warm-' : ''}${channelOf(j, chunk)}`,
      persistence: false,
    });
  };
  const check = async (t: Target, i: number, chunk: Chunk) => {
    const list = rooms[i]!.slice(chunk.from, chunk.to);
    const channelsSplit = () => {
      const expected = new Map<number, number>();
      list.forEach(
        (r, x) => r && expected.set(channelOf(chunk.from + x, chunk), (expected.get(channelOf(chunk.from + x, chunk)) ?? 0) + 1),
      );
      const bad = new Set<number>();
      list.forEach((r, x) => {
        const size = (r?.state as { members?: { size: number } } | undefined)?.members?.size ?? 0;
        if (r && size !== expected.get(channelOf(chunk.from + x, chunk))) bad.add(channelOf(chunk.from + x, chunk));
      });
      return bad.size;
    };
    // State patches arrive within a few patch intervals; a driver without insert-if-absent never converges.
    const until = performance.now() + (t.kind === 'tavern' ? 3000 : 500);
    while (channelsSplit() > 0 && performance.now() < until) await sleep(100);
    if (!chunk.warm) split[i]! += channelsSplit();
    await leaveAll(list);
  };
  const runs = await interleaved(opts, targets, 'chat join', opts.joins, errorSamples, join, check);
  runs.forEach((r, i) => (r.splitChannels = split[i]));
  return runs;
}

async function sessionJoins(opts: DriverBenchOptions, targets: Target[], tokens: string[], errorSamples: string[]): Promise<OpRun[]> {
  const rooms: (Room | undefined)[][] = targets.map(() => []);
  return interleaved(
    opts,
    targets,
    'session join',
    opts.joins,
    errorSamples,
    async (t, j) => {
      rooms[targets.indexOf(t)]![j] = await sdkClient(t.server.url, tokens[j]).create('session', {});
    },
    (_t, i, chunk) => leaveAll(rooms[i]!.slice(chunk.from, chunk.to)),
  );
}

async function matchLists(opts: DriverBenchOptions, targets: Target[], tokens: string[], errorSamples: string[]): Promise<OpRun[]> {
  return interleaved(opts, targets, 'match list', opts.lists, errorSamples, async (t, j) => {
    const res = await fetch(`${t.server.url}/v2/match?limit=10`, { headers: { authorization: `Bearer ${tokens[j % tokens.length]}` } });
    const body = (await res.json()) as { matches?: unknown[] };
    if (res.status !== 200) throw new Error(`GET /v2/match: ${res.status} ${JSON.stringify(body)}`);
  });
}
