/**
 * Fleet scenario of `npm run bench`: relayed match data through Tavern's `match` room with one
 * process and with two processes on Redis, in the same run, with the client machinery of the relay
 * scenario (loadtest/relay-run.ts).
 *
 * Tavern processes are children (`src/main.ts`) on one database and one throwaway redis-server,
 * each with REDIS_URL, its own TAVERN_PUBLIC_ADDRESS (127.0.0.1:<port>) and TAVERN_NODE_NAME, pinned
 * to a core of its own when taskset is available. Run 1: BENCH_FLEET_CLIENTS (1000) clients on
 * process A. Run 2: process B joins and the same clients split evenly: group g talks HTTP to process
 * g mod 2, its first client `create`s the room (Colyseus places it on either process) and every
 * client's WebSocket goes to the process the seat reservation names. Each client sends
 * BENCH_FLEET_RATE (10) messages per second in rooms of BENCH_RELAY_GROUP (10). Process B runs only
 * during two-process runs (a live process gets rooms), and the configurations alternate for
 * BENCH_FLEET_ROUNDS (2) rounds; the table reports the best run of each — on a machine shared with
 * other work, noise only lowers throughput — and lists every run.
 *
 * The load generator (this process) runs on the same cores as the servers: the measured ratio is
 * bounded by the machine, not by Tavern alone. The table therefore also shows the servers' CPU per
 * delivery, and the ratio a core per process would give at that cost (2 × the single-process cost ÷
 * the two-process cost).
 */
import { randomBytes } from 'node:crypto';
import { freePort } from '../test/support/ports.js';
import { deviceTokens, relayProblems, relayRun, type RelayRun, type RelayRunOptions } from './relay-run.js';
import { busyWarning, writeResults } from './report.js';
import { fmt, machine, startChildServer, throwawayRedis, type ChildServer } from './support.js';

export interface FleetBenchOptions extends Omit<RelayRunOptions, 'scenario'> {
  /** One database for every process. */
  databaseUrl: string;
  clients: number;
  /** Runs of each configuration, alternating (1 process, 2 processes, 1, 2 …); the best of each is reported. */
  rounds: number;
  /** One CPU list per process (taskset), if pinned. */
  cpus?: string[] | undefined;
  layout: string;
}

/** Starts Tavern process `name` of a fleet on Redis, pinned to `cpus` when given. */
export async function startFleetProcess(opts: {
  name: string;
  databaseUrl: string;
  redisUrl: string;
  cpus?: string | undefined;
  env?: Record<string, string>;
}): Promise<ChildServer> {
  const port = await freePort();
  return startChildServer({
    name: opts.name,
    script: 'src/main.ts',
    port,
    cpus: opts.cpus,
    env: {
      TAVERN_PORT: String(port),
      TAVERN_PUBLIC_ADDRESS: `127.0.0.1:${port}`,
      TAVERN_NODE_NAME: opts.name,
      DATABASE_URL: opts.databaseUrl,
      REDIS_URL: opts.redisUrl,
      TAVERN_RATE_LIMIT_REQUESTS: '0',
      TAVERN_MAX_MESSAGES_PER_SECOND: '100000',
      TAVERN_LOG_LEVEL: 'warn',
      TAVERN_LOG_FORMAT: 'json',
      TAVERN_SHUTDOWN_GRACE_SEC: '2',
      TAVERN_TOKEN_EXPIRY_SEC: '86400',
      NODE_ENV: 'development',
      // Only the bench's own module: the designers' modules/ folder is not what is measured.
      TAVERN_RUNTIME_PATH: './loadtest/modules',
      ...opts.env,
    },
  });
}

export async function fleetBench(opts: FleetBenchOptions): Promise<{ table: string; file: string; problems: string[] }> {
  const { log } = opts;
  const redis = await throwawayRedis();
  const runs: RelayRun[] = [];
  const hosts: Record<string, string> = {};
  let a: ChildServer | undefined;
  let b: ChildServer | undefined;
  try {
    a = await startFleetProcess({ name: 'tavern-a', databaseUrl: opts.databaseUrl, redisUrl: redis.url, cpus: opts.cpus?.[0] });
    hosts[new URL(a.url).host] = 'tavern-a';
    log(`fleet: authenticating ${opts.clients} devices`);
    const tokens = await deviceTokens(a.url, opts.clients, `bench-fleet-${randomBytes(4).toString('hex')}`);
    // Process B runs only during two-process runs: a live second process would get rooms.
    for (let round = 1; round <= opts.rounds; round++) {
      runs.push((await relayRun({ ...opts, scenario: `fleet #${round}` }, '1 process', 'match', [a], opts.clients, tokens)).summary);
      log('fleet: starting tavern-b');
      b = await startFleetProcess({ name: 'tavern-b', databaseUrl: opts.databaseUrl, redisUrl: redis.url, cpus: opts.cpus?.[1] });
      hosts[new URL(b.url).host] = 'tavern-b';
      runs.push((await relayRun({ ...opts, scenario: `fleet #${round}` }, '2 processes', 'match', [a, b], opts.clients, tokens)).summary);
      await b.stop();
      b = undefined;
    }
  } finally {
    await b?.stop().catch(() => undefined);
    await a?.stop().catch(() => undefined);
    await redis.stop();
  }

  // Lost messages, errors and drops void a run. A sender behind its schedule does not: the load
  // generator shares the servers' cores, so at saturation it falls behind by design (noted below).
  const problems = runs.flatMap((r, i) =>
    relayProblems(`fleet/${r.target} #${Math.floor(i / 2) + 1}`, r, opts.rate).filter((p) => !p.includes('below the offered')),
  );
  const info = machine();
  const table = fleetMarkdown(runs, hosts, opts, info);
  const file = writeResults('fleet', {
    benchmark: 'Relayed match data, one Tavern process against two on Redis',
    date: new Date().toISOString(),
    machine: info,
    settings: {
      clients: opts.clients,
      groupSize: opts.groupSize,
      ratePerClient: opts.rate,
      payloadBytes: opts.payloadBytes,
      warmupSec: opts.warmupSec,
      durationSec: opts.durationSec,
      rounds: opts.rounds,
      layout: opts.layout,
      hosts,
    },
    runs,
    problems,
  });
  return { table, file, problems };
}

function fleetMarkdown(runs: RelayRun[], hosts: Record<string, string>, opts: FleetBenchOptions, info: ReturnType<typeof machine>): string {
  const out: string[] = [];
  const best = (target: string) =>
    runs
      .filter((r) => r.target === target)
      .reduce<RelayRun | undefined>((x, r) => (!x || r.deliveredPerSec > x.deliveredPerSec ? r : x), undefined);
  const one = best('1 process');
  const two = best('2 processes');
  out.push(
    `Relayed match data on a fleet: ${fmt(opts.clients)} clients, rooms of ${opts.groupSize}, ${opts.rate} msg/s per client, ` +
      `${opts.payloadBytes}-byte payload, ${opts.durationSec} s per run (after ${opts.warmupSec} s warm-up), ` +
      `best of ${opts.rounds} alternating runs per configuration (a busy shared machine only lowers throughput; every run below)`,
  );
  out.push('');
  out.push(
    '| processes | delivered/s | p50 / p99 latency | servers CPU (all processes) | servers CPU µs/delivery | load generator CPU | rooms per process |',
  );
  out.push('|---:|---:|---:|---:|---:|---:|---|');
  for (const r of [one, two]) {
    if (!r) continue;
    const placement = Object.entries(r.roomsByHost)
      .map(([h, n]) => `${hosts[h] ?? h}: ${n}`)
      .join(', ');
    out.push(
      `| ${r.target.split(' ')[0]} | ${fmt(r.deliveredPerSec)} | ${fmt(r.latencyMs.p50, 1)} / ${fmt(r.latencyMs.p99, 1)} ms | ${fmt(r.cpuPct.server)} % | ` +
        `${fmt(r.serverCpuUsPerDelivery, 1)} | ${fmt(r.cpuPct.loadGenerator)} % | ${placement} |`,
    );
  }
  if (one && two) {
    out.push('');
    out.push(
      `Ratio 2 processes / 1 process: **${fmt(two.deliveredPerSec / one.deliveredPerSec, 2)}×** delivered/s measured ` +
        `(target ≥ 1.7×); ${fmt((2 * one.serverCpuUsPerDelivery) / two.serverCpuUsPerDelivery, 2)}× at the measured CPU cost per delivery ` +
        `if each process had a core to itself and the load generator ran elsewhere.`,
    );
  }
  const behind = runs.filter((r) => r.sentPerSec < r.clients * opts.rate * 0.95);
  if (behind.length > 0)
    out.push(
      `\nThe load generator fell behind the offered ${fmt(opts.clients * opts.rate)} messages/s in ${behind.length} of ${runs.length} runs: ` +
        'the machine, not one server process, was the limit there.',
    );
  out.push('');
  out.push(
    '| run | processes | sent/s | delivered/s | delivered | expected | errors | dropped | p90 / max latency | servers CPU µs/delivery | other processes CPU | connect |',
  );
  out.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  runs.forEach((r, i) => {
    out.push(
      `| ${Math.floor(i / 2) + 1} | ${r.target.split(' ')[0]} | ${fmt(r.sentPerSec)} | ${fmt(r.deliveredPerSec)} | ${fmt(r.delivered)} | ${fmt(r.expected)} | ` +
        `${r.errors} | ${r.droppedClients} | ${fmt(r.latencyMs.p90, 1)} / ${fmt(r.latencyMs.max, 1)} ms | ${fmt(r.serverCpuUsPerDelivery, 1)} | ` +
        `${r.cpuPct.otherProcesses === undefined ? 'n/a' : `${fmt(r.cpuPct.otherProcesses)} %`} | ${fmt(r.connectSec, 1)} s |`,
    );
  });
  out.push('');
  out.push(`Machine: ${info.cpu}, ${info.cores} cores, Node ${info.node}, ${info.os}`);
  out.push(`Layout: ${opts.layout}. THE LOAD GENERATOR SHARES THE MACHINE'S CORES WITH THE SERVERS.`);
  out.push(
    'CPU columns: % of one core during the measured run (servers: every Tavern process together; other processes: the rest of the machine, ' +
      'Redis and PostgreSQL included). Both configurations on Redis (REDIS_URL: presence and room registry); with 2 processes each group ' +
      'talks HTTP to process g mod 2 and connects where its room was placed.',
  );
  return (
    out.join('\n') +
    busyWarning([one, two].filter((r): r is RelayRun => r !== undefined).map((r) => [`best ${r.target} run`, r.cpuPct.otherProcesses]))
  );
}
