/**
 * `npm run bench`: Tavern's benchmarks, each a scenario that prints Markdown tables on stdout and
 * writes its numbers to loadtest/results/<scenario>-<time>.json. A scenario whose numbers are void
 * (failed requests, lost messages, errors) says so loudly and makes the run exit 1. This file is the
 * orchestrator: environment, scenario selection, cores, the shared PostgreSQL, output.
 *
 * BENCH_SCENARIOS picks scenarios, comma-separated (default
 * `auth,leaderboard,storage,relay,driver,fleet,fleet-chat,matchmaker,idle`), run in this order:
 * - leaderboard (loadtest/leaderboard.ts): around-owner latency on a board of BENCH_LB_RECORDS
 *   (1,000,000) records, rank cache against SQL COUNT(*), BENCH_LB_SAMPLES (2000) queries each
 *   (BENCH_LB_BASELINE_SAMPLES (100) of the slow SQL baseline); also
 *   with the rank cache in Redis (BENCH_LB_REDIS=0 skips it, BENCH_REDIS_URL uses an existing Redis
 *   instead of a throwaway redis-server).
 * - relay (loadtest/relay.ts, clients in loadtest/relay-run.ts): round trip of relayed match data
 *   through Tavern's `match` room against a bare Colyseus relay room
 *   (loadtest/relay-baseline-server.ts), with BENCH_RELAY_CLIENTS (`250,500,750`) SDK clients in rooms
 *   of BENCH_RELAY_GROUP (10), each sending BENCH_RELAY_RATE (10) messages per second of
 *   BENCH_RELAY_PAYLOAD (48) bytes; then the state sync cost of BENCH_SYNC_ENTITIES (100) moving
 *   entities over BENCH_SYNC_TICKS (2000) ticks, schema patches against JSON (loadtest/state-sync.ts).
 * - auth and storage (loadtest/api.ts): requests per second, Tavern against a minimal baseline
 *   (loadtest/baseline-server.ts: raw node:http + pg + jsonwebtoken doing the same SQL and JWT
 *   work), both child processes on their own database, loaded in turn by autocannon with
 *   BENCH_CONNECTIONS (32) connections. auth: NEW (a new device id per request) and EXISTING
 *   (cycling through BENCH_EXISTING (2000) pre-created devices). storage: BENCH_STORAGE_USERS (200)
 *   users with BENCH_STORAGE_KEYS (10) objects each; WRITE (`PUT /v2/storage`) and READ
 *   (`POST /v2/storage`).
 * - driver (loadtest/driver.ts, server loadtest/driver-server.ts): join latency with
 *   BENCH_DRIVER_SESSIONS (10,000) session room listings in the shared Redis registry (and with 0),
 *   Tavern's Redis driver against the stock @colyseus/redis-driver, a Tavern child process per row:
 *   BENCH_DRIVER_JOINS (1000) chat joins and session joins and BENCH_DRIVER_LISTS (500) match
 *   listings per row, BENCH_DRIVER_CONCURRENCY (16) in flight, chat channels of
 *   BENCH_DRIVER_CHANNEL_SIZE (4) members, interleaved over the rows in BENCH_DRIVER_ROUNDS (4) rounds.
 * - fleet (loadtest/fleet.ts, load workers loadtest/fleet-workers.ts): relay throughput of one
 *   Tavern process and of two on Redis, BENCH_FLEET_CLIENTS (1000) clients in rooms of
 *   BENCH_RELAY_GROUP (10) at BENCH_FLEET_RATE (30) messages per second (enough to saturate both
 *   configurations on 2 cores), BENCH_RELAY_PAYLOAD bytes, best of BENCH_FLEET_ROUNDS (2) alternating
 *   runs. The clients live in BENCH_FLEET_WORKERS (2 per core, at most 4) child processes; most
 *   count frames without decoding them, one in every BENCH_FLEET_SAMPLE_EVERY-th (10th) room decodes
 *   and checks everything; a room keeps at most BENCH_FLEET_WINDOW (2 × group) messages in flight.
 * - matchmaker (loadtest/matchmaker.ts): one processing pass over pools of BENCH_MM_SIZES
 *   (`10000,100000`) realistic tickets against a sort-and-bucket baseline, BENCH_MM_REPEATS (3) runs.
 * - idle (loadtest/idle.ts, baseline loadtest/idle-ws-baseline.ts): memory per idle session at
 *   BENCH_IDLE_SESSIONS (5000) connections and idle CPU at BENCH_IDLE_CPU_SESSIONS (10000), against
 *   a bare `ws` server holding as many idle connections.
 * - fleet-chat (loadtest/fleet-chat.ts, RPC module loadtest/modules/bench-chat.ts): chat delivery
 *   between two processes on Redis beside raw Redis PUBLISH throughput: BENCH_CHAT_CHANNELS (20)
 *   channels of BENCH_CHAT_RECEIVERS (5) receivers and one sender; client messages with
 *   BENCH_CHAT_WINDOW (8) awaiting their ack per sender, server messages through RPCs of
 *   BENCH_CHAT_RPC_BATCH (10) messages, BENCH_CHAT_RPC_CONCURRENCY (16) in flight.
 *
 * Common env: BENCH_DURATION (s, 8) and BENCH_WARMUP (s, 2) per measured run (auth, storage, relay,
 * fleet, fleet-chat); BENCH_DATABASE_URL, an admin URL of a PostgreSQL server where the scenarios'
 * databases are created and dropped (default: a throwaway cluster, fsync off). Redis is always a
 * throwaway redis-server (one per process in the driver scenario, one per fleet otherwise).
 *
 * Cores: with taskset and ≥ 2 cores (BENCH_PIN=0 pins nothing), this process (the load generator)
 * runs on BENCH_CPUS_LOADGEN (0) and single servers on BENCH_CPUS_SERVER (1) — auth, storage, relay,
 * driver; PostgreSQL on BENCH_CPUS_POSTGRES (default: unpinned, it shares every core). fleet and
 * fleet-chat pin each Tavern process to a core of its own (BENCH_CPUS_SERVER, then
 * BENCH_CPUS_SERVER2, default the other core) and leave the load generator, Redis and PostgreSQL
 * unpinned: on a 2-core machine they share the servers' cores, which the output says.
 */
import os from 'node:os';
import path from 'node:path';
import { createDatabase, startPostgres, type PgCluster } from '../test/support/postgres.js';
import { apiBench } from './api.js';
import { latencyChart, seriesOf } from './chart.js';
import { captureStdout, writeRunReport } from './report.js';
import { driverBench } from './driver.js';
import { fleetBench } from './fleet.js';
import { fleetChatBench } from './fleet-chat.js';
import { idleBench, idleSettings } from './idle.js';
import { matchmakerBench } from './matchmaker.js';
import { leaderboardBench } from './leaderboard.js';
import { relayBench } from './relay.js';
import { hasTaskset, machine, pinProcess, sql, stopAll } from './support.js';

const env = process.env;
const num = (name: string, dflt: number) => {
  const v = env[name] === undefined || env[name] === '' ? dflt : Number(env[name]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
};
const settings = {
  durationSec: num('BENCH_DURATION', 8),
  warmupSec: num('BENCH_WARMUP', 2),
  connections: num('BENCH_CONNECTIONS', 32),
  existingDevices: num('BENCH_EXISTING', 2000),
  storageUsers: num('BENCH_STORAGE_USERS', 200),
  storageKeys: num('BENCH_STORAGE_KEYS', 10),
  poolSize: 20, // Tavern's default TAVERN_DB_POOL_SIZE; the baseline gets the same
};
const DEFAULT_SCENARIOS = 'auth,leaderboard,storage,relay,driver,fleet,fleet-chat,matchmaker,idle';

const cleanups: (() => Promise<void> | void)[] = [];
async function cleanup(): Promise<void> {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!();
    } catch (err) {
      process.stderr.write(`cleanup: ${(err as Error).message}\n`);
    }
  }
}
// `on`, not `once`: tsx repeats a signal it does not see acknowledged within 30 ms, and with no
// listener left the second one would end this process before the cleanup is done.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: stopping servers and database…\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

/** Prints a scenario's tables, a loud warning for its problems (exit code 1), and its results file. */
/** Results files of this run with latency by client count (relay, fleet): the chart's input. */
const chartFiles: string[] = [];

function output(result: { table: string; file: string; problems: string[] }): void {
  if (/\/(relay|fleet)-\d{4}-[^/]*\.json$/.test(result.file)) chartFiles.push(result.file);
  process.stdout.write(`\n${result.table}\n`);
  if (result.problems.length > 0) {
    const bar = '!'.repeat(78);
    process.stdout.write(
      `\n${bar}\n!!! WARNING: THESE NUMBERS ARE NOT VALID\n${result.problems.map((i) => `!!! ${i}`).join('\n')}\n${bar}\n`,
    );
    process.exitCode = 1;
  }
  process.stdout.write(`\nResults: ${result.file}\n`);
}

async function main(): Promise<void> {
  const started = Date.now();
  const captured = captureStdout();
  const loadAtStart = os.loadavg()[0]!;
  const cores = machine().cores;
  const pin = env.BENCH_PIN !== '0' && cores >= 2 && hasTaskset();
  const cpus = { loadgen: env.BENCH_CPUS_LOADGEN || '0', server: env.BENCH_CPUS_SERVER || '1', postgres: env.BENCH_CPUS_POSTGRES || '' };
  const allCpus = `0-${cores - 1}`;

  let cluster: PgCluster | undefined;
  let adminUrl = env.BENCH_DATABASE_URL;
  if (!adminUrl) {
    log('starting a throwaway PostgreSQL cluster');
    cluster = await startPostgres();
    const c = cluster;
    cleanups.push(() => c.stop());
    adminUrl = cluster.url();
  }
  // Child servers and throwaway Redis servers a scenario has not stopped (interrupted, or failed).
  cleanups.push(stopAll);
  const suffix = cluster ? '' : `_${process.pid}`;
  /** A database of this run, dropped afterwards when the server is not a throwaway one. */
  const database = async (name: string): Promise<string> => {
    const url = await createDatabase(adminUrl, name + suffix);
    if (!cluster) {
      const admin = adminUrl;
      cleanups.push(() => sql(admin, `drop database if exists "${name + suffix}" with (force)`).then(() => undefined));
    }
    return url;
  };
  const scenarios = new Set((env.BENCH_SCENARIOS || DEFAULT_SCENARIOS).split(',').map((x) => x.trim()));
  if (scenarios.has('leaderboard')) {
    const lb = await leaderboardBench({
      adminUrl,
      suffix,
      records: num('BENCH_LB_RECORDS', 1_000_000),
      samples: num('BENCH_LB_SAMPLES', 2000),
      baselineSamples: num('BENCH_LB_BASELINE_SAMPLES', 100),
      redis: env.BENCH_LB_REDIS !== '0',
      redisUrl: env.BENCH_REDIS_URL || undefined,
      log,
    });
    process.stdout.write(`\n${lb.table}\n\nResults: ${lb.file}\n`);
    if (lb.problems.length > 0) {
      process.stdout.write(`\n!!! ${lb.problems.join('\n!!! ')}\n`);
      process.exitCode = 1;
    }
  }
  if (scenarios.has('relay')) {
    const relayUrl = await database('bench_relay');
    if (pin) pinProcess(process.pid, cpus.loadgen);
    const relay = await relayBench({
      databaseUrl: relayUrl,
      clientCounts: (env.BENCH_RELAY_CLIENTS || '250,500,750').split(',').map((x) => {
        const n = Number(x.trim());
        if (!Number.isInteger(n) || n < 2) throw new Error('BENCH_RELAY_CLIENTS must be a list of integers ≥ 2');
        return n;
      }),
      groupSize: num('BENCH_RELAY_GROUP', 10),
      rate: num('BENCH_RELAY_RATE', 10),
      payloadBytes: num('BENCH_RELAY_PAYLOAD', 48),
      warmupSec: settings.warmupSec,
      durationSec: settings.durationSec,
      syncEntities: num('BENCH_SYNC_ENTITIES', 100),
      syncTicks: num('BENCH_SYNC_TICKS', 2000),
      cpus: pin ? cpus.server : undefined,
      layout: pin
        ? `load generator (SDK clients, this process) on CPU ${cpus.loadgen}, servers on CPU ${cpus.server}`
        : `load generator and servers share all ${cores} cores (no pinning)`,
      log,
    });
    output(relay);
  }
  if (scenarios.has('auth') || scenarios.has('storage')) {
    await apiBench({
      adminUrl,
      cluster,
      suffix,
      auth: scenarios.has('auth'),
      storage: scenarios.has('storage'),
      settings,
      pin,
      cpus,
      defer: (fn) => void cleanups.push(fn),
      log,
    });
  }
  if (scenarios.has('driver')) {
    if (pin) pinProcess(process.pid, cpus.loadgen);
    output(
      await driverBench({
        databaseUrl: await database('bench_driver'),
        pgDataDir: cluster ? path.join(cluster.dir, 'data') : undefined,
        joins: num('BENCH_DRIVER_JOINS', 1000),
        lists: num('BENCH_DRIVER_LISTS', 500),
        concurrency: num('BENCH_DRIVER_CONCURRENCY', 16),
        rounds: num('BENCH_DRIVER_ROUNDS', 4),
        sessions: num('BENCH_DRIVER_SESSIONS', 10_000),
        channelSize: num('BENCH_DRIVER_CHANNEL_SIZE', 4),
        cpus: pin ? cpus.server : undefined,
        layout: pin
          ? `load generator (SDK clients, this process) on CPU ${cpus.loadgen}, the Tavern processes on CPU ${cpus.server}, ` +
            'their Redis servers and PostgreSQL unpinned'
          : `load generator, Tavern processes, Redis servers and PostgreSQL share all ${cores} cores (no pinning)`,
        log,
      }),
    );
  }
  if (scenarios.has('fleet') || scenarios.has('fleet-chat')) {
    // Both fleet scenarios pin each Tavern process to a core of its own and leave the load
    // generator free to run anywhere: it shares the servers' cores.
    if (pin) pinProcess(process.pid, allCpus);
    const serverCpus = pin ? fleetCpus(cores) : undefined;
    const layout = pin
      ? `Tavern processes pinned to CPUs ${serverCpus!.join(' and ')} (one each); the load generator (SDK clients, this process), Redis and ` +
        `PostgreSQL are unpinned and SHARE THE SAME ${cores} CORES with them`
      : `load generator, Tavern processes, Redis and PostgreSQL share all ${cores} cores (no pinning)`;
    if (scenarios.has('fleet')) {
      const fleetLayout = pin
        ? `Tavern processes pinned to CPUs ${serverCpus!.join(' and ')} (one each); the load workers (child processes), Redis and ` +
          `PostgreSQL are unpinned and SHARE THE SAME ${cores} CORES with them`
        : layout;
      output(
        await fleetBench({
          databaseUrl: await database('bench_fleet'),
          clients: num('BENCH_FLEET_CLIENTS', 1000),
          rounds: num('BENCH_FLEET_ROUNDS', 2),
          groupSize: num('BENCH_RELAY_GROUP', 10),
          rate: num('BENCH_FLEET_RATE', 30),
          payloadBytes: num('BENCH_RELAY_PAYLOAD', 48),
          warmupSec: settings.warmupSec,
          durationSec: settings.durationSec,
          cpus: serverCpus,
          layout: fleetLayout,
          log,
        }),
      );
    }
    if (scenarios.has('fleet-chat')) {
      output(
        await fleetChatBench({
          databaseUrl: await database('bench_fleet_chat'),
          channels: num('BENCH_CHAT_CHANNELS', 20),
          receivers: num('BENCH_CHAT_RECEIVERS', 5),
          window: num('BENCH_CHAT_WINDOW', 8),
          rpcConcurrency: num('BENCH_CHAT_RPC_CONCURRENCY', 16),
          rpcBatch: num('BENCH_CHAT_RPC_BATCH', 10),
          warmupSec: settings.warmupSec,
          durationSec: settings.durationSec,
          cpus: serverCpus,
          layout,
          log,
        }),
      );
    }
  }
  if (scenarios.has('matchmaker')) {
    const sizes = (env.BENCH_MM_SIZES || '10000,100000').split(',').map((x) => Number(x.trim()));
    output(matchmakerBench({ sizes, repeats: num('BENCH_MM_REPEATS', 3), log }));
  }
  if (scenarios.has('idle')) {
    if (pin) pinProcess(process.pid, cpus.loadgen);
    output(
      await idleBench({
        databaseUrl: await database('bench_idle'),
        ...idleSettings(env),
        cpus: pin ? cpus.server : undefined,
        layout: pin ? `load generator on CPU ${cpus.loadgen}, servers on CPU ${cpus.server}` : 'no pinning',
        log,
      }),
    );
  }
  if (chartFiles.length > 0) {
    const svg = path.join(path.dirname(chartFiles[0]!), 'latency.svg');
    latencyChart(
      chartFiles.flatMap((f) => seriesOf(f)),
      svg,
      'Relayed match data: round-trip latency by number of clients',
    );
    process.stdout.write(`\nChart (latency by clients, relay and fleet): ${svg}\n`);
  }
  const totalSec = (Date.now() - started) / 1000;
  process.stdout.write(`\nTotal time: ${totalSec.toFixed(0)} s\n`);
  captured.stop();
  const m = machine();
  const report = writeRunReport({
    machine: [
      `${m.cpu}, ${m.cores} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB of memory`,
      `${m.os}; Node ${m.node}; ${pin ? `taskset pinning (load generator CPU ${cpus.loadgen}, single servers CPU ${cpus.server})` : 'no pinning'}`,
      `load average (1 min) ${loadAtStart.toFixed(2)} at the start, ${os.loadavg()[0]!.toFixed(2)} at the end`,
    ],
    settings: Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('BENCH_')) as [string, string][]),
    body: captured.text(),
    totalSec,
  });
  process.stdout.write(`Report: ${report}\n`);
}

/** CPUs for two fleet processes: the first on the last core (where single servers go), the second on core 0. */
function fleetCpus(cores: number): string[] {
  const first = env.BENCH_CPUS_SERVER || String(cores - 1);
  const second = env.BENCH_CPUS_SERVER2 || (first === '0' ? '1' : '0');
  return [first, second];
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
