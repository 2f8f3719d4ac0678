/**
 * Leaderboard scenario of `npm run bench`: latency of "records around an owner" on a board of
 * BENCH_LB_RECORDS (1,000,000) records, Tavern's rank cache against the same query answered by SQL
 * alone (rank by `COUNT(*)` over the rank-key index, neighbours by keyset), in the same run on the
 * same table. Records are bulk-inserted with `INSERT … SELECT generate_series`, then the rank cache
 * is built from the database as at boot.
 *
 * Three measurements, each over BENCH_LB_SAMPLES random owners, one request at a time (the SQL
 * baseline over the first BENCH_LB_BASELINE_SAMPLES (100) of them: at ~140 ms a query, 2000 would
 * take five minutes of the bench's ten):
 * - service, rank cache: what the endpoint's handler does (board lookup, owner row, window from the
 *   cache, the window's rows by key), in this process;
 * - service, SQL COUNT(*): the same answer with the rank counted in SQL, in this process;
 * - HTTP: GET /v2/leaderboard/{id}/owner/{owner}?limit=10 against a Tavern process on the same
 *   database (its cache built at its boot), with a session token;
 * - service, Redis rank cache: the first measurement with the cache in Redis (RedisRankCache, as
 *   with REDIS_URL), on a throwaway `redis-server` (or BENCH_REDIS_URL); skipped with BENCH_LB_REDIS=0
 *   or when redis-server is not installed.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import pg from 'pg';
import { migrate, openOrm, type Orm } from '../src/db/orm.js';
import type { Em } from '../src/services/db.js';
import { sql, run } from '../src/services/db.js';
import { cachedRanks, RECORD_COLUMNS, type RecordRow } from '../src/services/leaderboard-records.js';
import { recordsAroundOwner } from '../src/services/leaderboard-reads.js';
import { mustGetLeaderboard } from '../src/services/leaderboards.js';
import { systemClock } from '../src/services/ports.js';
import { LocalRankCache } from '../src/services/rank-cache.js';
import { RedisRankCache } from '../src/services/redis-rank-cache.js';
import { createDatabase } from '../test/support/postgres.js';
import { freePort } from '../test/support/ports.js';
import { startRedis, type TestRedis } from '../test/support/redis.js';
import { writeResults } from './report.js';
import { machine, startChildServer, tavernEnv } from './support.js';

const BOARD = 'bench_board';

/** A forced garbage collection, so heap numbers count live objects only. */
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const LIMIT = 10;

export interface LeaderboardBenchOptions {
  adminUrl: string;
  /** Suffix for the database name when the cluster is shared. */
  suffix: string;
  records: number;
  samples: number;
  /** Owners the slow SQL baseline is timed on (the first of `samples`). */
  baselineSamples: number;
  log: (msg: string) => void;
  /** CPU list to pin the Tavern child to (taskset), if any. */
  cpus?: string | undefined;
  /** Measure the Redis rank cache too (default true). */
  redis?: boolean;
  /** An existing Redis for it (keys under a `bench:<pid>:` prefix, removed after); else a throwaway one. */
  redisUrl?: string | undefined;
}

interface Latency {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  avg: number;
}

function latency(ms: number[]): Latency {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s[s.length - 1]!, avg: s.reduce((x, y) => x + y, 0) / s.length };
}

async function timed(samples: string[], fn: (owner: string) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (const owner of samples) {
    const t = performance.now();
    await fn(owner);
    out.push(performance.now() - t);
  }
  return out;
}

/** The around-owner answer by SQL alone: owner row, COUNT(*) rank, then the neighbours by keyset. */
async function sqlAroundOwner(em: Em, owner: string): Promise<{ rank: number; rows: RecordRow[] }> {
  await mustGetLeaderboard(em, BOARD);
  const where = sql`leaderboard_id = ${BOARD} and expiry_time = 0`;
  const me = (
    await sql<RecordRow>`select ${RECORD_COLUMNS} from leaderboard_record where ${where} and owner_id = ${owner}`.execute(em.getKysely())
  ).rows[0]!;
  const count = (
    await sql<{ n: string }>`select count(*)::text as n from leaderboard_record where ${where} and rank_key < ${me.rank_key}`.execute(
      em.getKysely(),
    )
  ).rows[0]!;
  const above =
    await sql<RecordRow>`select ${RECORD_COLUMNS} from leaderboard_record where ${where} and rank_key < ${me.rank_key} order by rank_key desc limit ${LIMIT}`.execute(
      em.getKysely(),
    );
  const below =
    await sql<RecordRow>`select ${RECORD_COLUMNS} from leaderboard_record where ${where} and rank_key > ${me.rank_key} order by rank_key limit ${LIMIT}`.execute(
      em.getKysely(),
    );
  return { rank: Number(count.n) + 1, rows: [...above.rows.reverse(), me, ...below.rows] };
}

const usedMemory = (info: string) => Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);

/**
 * Around-owner latency with the rank cache in Redis: the same service call as the rank-cache
 * measurement, its period loaded into Redis from PostgreSQL first. Undefined when skipped.
 */
async function redisAroundOwner(
  o: LeaderboardBenchOptions,
  em: () => Em,
  owners: string[],
  warm: string[],
  reference: (owner: string) => Promise<{ records: { ownerId: string; rank: number }[] }>,
  problems: string[],
): Promise<{ latency: Latency; buildMs: number; memoryMb: number } | undefined> {
  if (o.redis === false) return undefined;
  let server: TestRedis | undefined;
  let url = o.redisUrl;
  if (!url) {
    if (spawnSync('redis-server', ['--version']).error) {
      o.log('leaderboard: redis-server is not installed, skipping the Redis rank cache');
      return undefined;
    }
    server = await startRedis();
    url = server.url;
  }
  const ranks = new RedisRankCache(url, { keyPrefix: `bench:${process.pid}:` });
  const admin = new Redis(url);
  try {
    const ports = { clock: systemClock, ranks };
    const before = usedMemory(await admin.info('memory'));
    const t = performance.now();
    await cachedRanks(em(), ports, await mustGetLeaderboard(em(), BOARD), 0);
    const buildMs = performance.now() - t;
    const memoryMb = (usedMemory(await admin.info('memory')) - before) / 1e6;
    o.log(
      `leaderboard: Redis rank cache loaded in ${buildMs.toFixed(0)} ms (${(await ranks.count(BOARD, 0)).toLocaleString('en-US')} ranks)`,
    );
    const around = async (owner: string) => recordsAroundOwner(em(), ports, await mustGetLeaderboard(em(), BOARD), owner, LIMIT);
    // The window and its ranks agree with the local cache's.
    for (const owner of owners.slice(0, 20)) {
      const [a, b] = [await around(owner), await reference(owner)];
      const key = (l: typeof b) => JSON.stringify(l.records.map((r) => [r.ownerId, r.rank]));
      if (key(a) !== key(b)) problems.push(`leaderboard: Redis rank cache and local rank cache disagree around ${owner}`);
    }
    o.log(`leaderboard: ${owners.length} around-owner queries, Redis rank cache`);
    await timed(warm, around);
    return { latency: latency(await timed(owners, around)), buildMs, memoryMb };
  } finally {
    await ranks.dropLeaderboard(BOARD).catch(() => undefined);
    await ranks.close();
    await admin.quit();
    await server?.stop();
  }
}

async function adminQuery(url: string, text: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
}

export async function leaderboardBench(o: LeaderboardBenchOptions): Promise<{ table: string; file: string; problems: string[] }> {
  const url = await createDatabase(o.adminUrl, `bench_leaderboard${o.suffix}`);
  const orm: Orm = await openOrm({ url, poolSize: 4, logger: pino({ level: 'silent' }) });
  const problems: string[] = [];
  try {
    await migrate(orm);
    const em = () => orm.em.fork() as unknown as Em;
    o.log(`leaderboard: inserting ${o.records.toLocaleString('en-US')} records`);
    let t = performance.now();
    await run(em(), sql`insert into leaderboard (id, sort_order, operator) values (${BOARD}, 1, 0)`);
    // Scores with many ties (0..999,999 and 0..99), distinct rank times, random owners.
    await run(
      em(),
      sql`insert into leaderboard_record (leaderboard_id, owner_id, expiry_time, descending, username, score, subscore, rank_time)
          select ${BOARD}, gen_random_uuid(), 0, true, 'u' || i, (random() * 1000000)::bigint, (random() * 100)::bigint, 1700000000000000 + i
          from generate_series(1, ${o.records}::int) i`,
    );
    const insertSec = (performance.now() - t) / 1000;
    await adminQuery(url, 'vacuum analyze leaderboard_record');

    const ports = { clock: systemClock, ranks: new LocalRankCache() };
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    t = performance.now();
    await cachedRanks(em(), ports, await mustGetLeaderboard(em(), BOARD), 0);
    const buildMs = performance.now() - t;
    gc();
    const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
    o.log(
      `leaderboard: rank cache built in ${buildMs.toFixed(0)} ms (${(await ports.ranks.count(BOARD, 0)).toLocaleString('en-US')} ranks)`,
    );

    const owners = (await adminQuery(url, `select owner_id from leaderboard_record order by random() limit ${o.samples}`)).rows.map(
      (r: { owner_id: string }) => r.owner_id,
    );
    const warm = owners.slice(0, Math.min(200, owners.length));
    const cacheAround = async (owner: string) => recordsAroundOwner(em(), ports, await mustGetLeaderboard(em(), BOARD), owner, LIMIT);

    // Both answers agree (ranks of the owner and of the window).
    for (const owner of owners.slice(0, 20)) {
      const a = await cacheAround(owner);
      const b = await sqlAroundOwner(em(), owner);
      const mine = a.records.find((r) => r.ownerId === owner);
      if (!mine || mine.rank !== b.rank) problems.push(`leaderboard: rank mismatch for ${owner}: cache ${mine?.rank}, SQL ${b.rank}`);
    }

    o.log(`leaderboard: ${o.samples} around-owner queries, rank cache then SQL COUNT(*)`);
    await timed(warm, cacheAround);
    const cache = latency(await timed(owners, cacheAround));
    const redis = await redisAroundOwner(o, em, owners, warm, cacheAround, problems);
    const baselineOwners = owners.slice(0, Math.min(o.baselineSamples, owners.length));
    await timed(baselineOwners.slice(0, 10), (owner) => sqlAroundOwner(em(), owner));
    const baseline = latency(await timed(baselineOwners, (owner) => sqlAroundOwner(em(), owner)));

    o.log('leaderboard: starting Tavern on the same database for the HTTP measurement');
    const port = await freePort();
    const tavern = await startChildServer({
      name: 'Tavern',
      script: 'src/main.ts',
      port,
      cpus: o.cpus,
      timeoutMs: 120_000,
      env: tavernEnv(port, url),
    });
    let httpLatency: Latency | undefined;
    try {
      const auth = await fetch(`${tavern.url}/v2/account/authenticate/device?create=true`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('defaultkey:').toString('base64')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'bench-leaderboard-device' }),
      });
      const token = ((await auth.json()) as { token: string }).token;
      const get = async (owner: string) => {
        const res = await fetch(`${tavern.url}/v2/leaderboard/${BOARD}/owner/${owner}?limit=${LIMIT}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const body = (await res.json()) as { records?: unknown[] };
        if (res.status !== 200 || (body.records?.length ?? 0) !== LIMIT)
          throw new Error(`HTTP around-owner: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
      };
      t = performance.now();
      await get(owners[0]!); // waits for the process's rank cache (built at its boot)
      o.log(`leaderboard: Tavern's first answer (rank cache ready) after ${(performance.now() - t).toFixed(0)} ms`);
      await timed(warm, get);
      httpLatency = latency(await timed(owners, get));
    } finally {
      await tavern.stop();
    }

    if (cache.p99 >= 5) problems.push(`leaderboard: rank-cache around-owner p99 ${cache.p99.toFixed(2)} ms is not under the 5 ms target`);
    const f = (n: number) => n.toFixed(2);
    const row = (name: string, l: Latency) => `| ${name} | ${f(l.p50)} | ${f(l.p90)} | ${f(l.p99)} | ${f(l.max)} |`;
    const table = [
      `Leaderboard around-owner (limit ${LIMIT}) on ${o.records.toLocaleString('en-US')} records, ${o.samples} random owners, one at a time`,
      '',
      '| answered by | p50 ms | p90 ms | p99 ms | max ms |',
      '|---|---:|---:|---:|---:|',
      row('Tavern service, rank cache', cache),
      ...(redis ? [row('Tavern service, rank cache in Redis (REDIS_URL)', redis.latency)] : []),
      row(`baseline: same query, SQL COUNT(*) rank (${Math.min(o.baselineSamples, o.samples)} owners)`, baseline),
      ...(httpLatency ? [row('Tavern over HTTP (GET …/owner/{id}, session token)', httpLatency)] : []),
      '',
      `Machine load average (1 min) at the end: ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores; tail latencies grow with it.`,
      `p99 ratio (baseline / rank cache): ${(baseline.p99 / cache.p99).toFixed(1)}×. Bulk insert ${insertSec.toFixed(1)} s; rank cache built from PostgreSQL in ${buildMs.toFixed(0)} ms, ~${heapMb.toFixed(0)} MB of heap.`,
      ...(redis
        ? [`Redis rank cache loaded from PostgreSQL in ${redis.buildMs.toFixed(0)} ms, ~${redis.memoryMb.toFixed(0)} MB of Redis memory.`]
        : []),
    ].join('\n');
    const file = writeResults('leaderboard', {
      benchmark: 'leaderboard around owner',
      date: new Date().toISOString(),
      machine: machine(),
      settings: { records: o.records, samples: o.samples, baselineSamples: Math.min(o.baselineSamples, o.samples), limit: LIMIT },
      insertSec,
      cacheBuildMs: buildMs,
      cacheHeapMb: heapMb,
      ...(redis ? { redisCacheBuildMs: redis.buildMs, redisCacheMemoryMb: redis.memoryMb } : {}),
      latencyMs: {
        rankCache: cache,
        ...(redis ? { redisRankCache: redis.latency } : {}),
        sqlCount: baseline,
        ...(httpLatency ? { http: httpLatency } : {}),
      },
      loadAverage: os.loadavg(),
      problems,
    });
    return { table, file, problems };
  } finally {
    await orm.close(true);
    if (o.suffix)
      await adminQuery(o.adminUrl, `drop database if exists "bench_leaderboard${o.suffix}" with (force)`).catch(() => undefined);
  }
}
