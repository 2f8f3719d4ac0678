/**
 * `npm run bench`: device authentications per second, Tavern against a minimal baseline
 * (loadtest/baseline-server.ts: raw node:http + pg + jsonwebtoken doing the same SQL and JWT work).
 *
 * Both run as child processes on the same Node, each on its own database of one throwaway PostgreSQL
 * cluster (or of BENCH_DATABASE_URL, an admin URL where two databases are created and dropped), and
 * are loaded in turn by autocannon in this process with the same settings. Scenarios: NEW (each
 * request a new device id: SELECT miss + a two-insert transaction) and EXISTING (cycling through
 * pre-created devices: one SELECT join). Each run is preceded by a short warm-up of the same kind.
 *
 * Cores: with taskset and ≥ 2 cores, this process (the load generator) is pinned to
 * BENCH_CPUS_LOADGEN (0) and the servers to BENCH_CPUS_SERVER (1); PostgreSQL to BENCH_CPUS_POSTGRES
 * (default: unpinned, it shares every core). BENCH_PIN=0 pins nothing.
 *
 * Env: BENCH_DURATION (s, 10), BENCH_WARMUP (s, 2), BENCH_CONNECTIONS (32), BENCH_EXISTING (2000).
 *
 * Also the leaderboard scenario (loadtest/leaderboard.ts): around-owner latency on a board of
 * BENCH_LB_RECORDS (1,000,000) records, rank cache against SQL COUNT(*), BENCH_LB_SAMPLES (2000)
 * queries each; also with the rank cache in Redis (BENCH_LB_REDIS=0 skips it, BENCH_REDIS_URL uses
 * an existing Redis instead of a throwaway redis-server).
 *
 * And the storage scenario, on the same two servers: BENCH_STORAGE_USERS (200) device accounts, each
 * with BENCH_STORAGE_KEYS (10) objects `bench/k<n>` written beforehand, their session tokens used
 * round-robin. WRITE: `PUT /v2/storage` of one object, unconditional overwrite, the key rotating
 * per user; READ: `POST /v2/storage` of one own object by id.
 *
 * And the relay scenario (loadtest/relay.ts): round trip of relayed match data through Tavern's
 * `match` room against a bare Colyseus relay room (loadtest/relay-baseline-server.ts), with
 * BENCH_RELAY_CLIENTS (`500,1000`) SDK clients in rooms of BENCH_RELAY_GROUP (10), each sending
 * BENCH_RELAY_RATE (10) messages per second of BENCH_RELAY_PAYLOAD (48) bytes; then the state sync
 * cost of BENCH_SYNC_ENTITIES (100) moving entities, schema patches against JSON (loadtest/state-sync.ts).
 *
 * BENCH_SCENARIOS picks scenarios (default `auth,leaderboard,storage,relay`).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { createDatabase, startPostgres, type PgCluster } from '../test/support/postgres.js';
import { freePort } from '../test/support/ports.js';
import { leaderboardBench } from './leaderboard.js';
import { relayBench } from './relay.js';
import { markdown, noise, problems, summarize, writeResults, type RunSummary } from './report.js';
import {
  clusterCpu,
  clusterCpuDelta,
  cpuSeconds,
  hasTaskset,
  machine,
  machineBusySeconds,
  migrationSql,
  pinProcess,
  startChildServer,
  type ChildServer,
} from './support.js';

const env = process.env;
const num = (name: string, dflt: number) => {
  const v = env[name] === undefined || env[name] === '' ? dflt : Number(env[name]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
};
const settings = {
  durationSec: num('BENCH_DURATION', 10),
  warmupSec: num('BENCH_WARMUP', 2),
  connections: num('BENCH_CONNECTIONS', 32),
  existingDevices: num('BENCH_EXISTING', 2000),
  storageUsers: num('BENCH_STORAGE_USERS', 200),
  storageKeys: num('BENCH_STORAGE_KEYS', 10),
  poolSize: 20, // Tavern's default TAVERN_DB_POOL_SIZE; the baseline gets the same
};
const AUTH = `Basic ${Buffer.from('defaultkey:').toString('base64')}`;
const PATH = '/v2/account/authenticate/device?create=true';
const runId = randomBytes(4).toString('hex');

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
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping servers and database…\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

async function sql(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

/** Users `n` devices `bench-existing-000000` …, each with its own user, as plain rows. */
async function precreateDevices(url: string, n: number): Promise<void> {
  await sql(
    url,
    `with u as (
       insert into users (id, username) select gen_random_uuid(), 'benchexisting' || lpad(i::text, 6, '0') from generate_series(0, $1 - 1) i
       returning id, username)
     insert into user_device (id, user_id) select 'bench-existing-' || substr(username, 14), id from u`,
    [n],
  );
  await sql(url, 'analyze users, user_device');
}

const existingId = (i: number) => `bench-existing-${String(i % settings.existingDevices).padStart(6, '0')}`;

/** Checks one answer by hand: 200 with both tokens, `created` as expected. */
async function probe(target: ChildServer, id: string, created: boolean): Promise<void> {
  const res = await fetch(target.url + PATH, {
    method: 'POST',
    headers: { authorization: AUTH, 'content-type': 'application/json' },
    body: JSON.stringify({ id }),
  });
  const body = (await res.json()) as Record<string, unknown>;
  const ok =
    res.status === 200 && typeof body.token === 'string' && typeof body.refresh_token === 'string' && (body.created === true) === created;
  if (!ok) throw new Error(`${target.name}: unexpected answer for device ${id}: ${res.status} ${JSON.stringify(body)}`);
}

/** One request of a run: method, path, headers and body, made afresh for every request. */
interface BenchRequest {
  method: 'POST' | 'PUT';
  path: string;
  headers: Record<string, string>;
  body: string;
}
type NextRequest = () => BenchRequest;

function load(target: ChildServer, next: NextRequest, seconds: number): Promise<autocannon.Result> {
  return autocannon({
    url: target.url,
    connections: settings.connections,
    duration: seconds,
    timeout: 10,
    requests: [{ setupRequest: (req) => ({ ...req, ...next() }) }],
  });
}

const authRequest = (id: string): BenchRequest => ({
  method: 'POST',
  path: PATH,
  headers: { authorization: AUTH, 'content-type': 'application/json' },
  body: JSON.stringify({ id }),
});

async function countUsers(url: string): Promise<number> {
  return Number((await sql(url, 'select count(*)::int as n from users')).rows[0].n);
}

/** A storage user: its id and a session token, on one server. */
interface StorageUser {
  uid: string;
  token: string;
}

const storageDevice = (i: number) => `bench-storage-${String(i).padStart(6, '0')}`;

/** Creates the storage users through the server (device authentication) and returns their tokens. */
async function storageUsers(target: ChildServer): Promise<StorageUser[]> {
  const out: StorageUser[] = [];
  for (let i = 0; i < settings.storageUsers; i++) {
    const req = authRequest(storageDevice(i));
    const res = await fetch(target.url + req.path, { method: req.method, headers: req.headers, body: req.body });
    const body = (await res.json()) as { token?: string };
    if (res.status !== 200 || typeof body.token !== 'string')
      throw new Error(`${target.name}: could not authenticate ${storageDevice(i)}: ${res.status} ${JSON.stringify(body)}`);
    const claims = JSON.parse(Buffer.from(body.token.split('.')[1]!, 'base64url').toString('utf8')) as { uid: string };
    out.push({ uid: claims.uid, token: body.token });
  }
  return out;
}

/** Writes objects bench/k0 … k<keys-1> = {"hp":<n>} for every storage user, as the server would (MD5 version). */
async function seedStorage(url: string): Promise<void> {
  await sql(
    url,
    `insert into storage (collection, key, user_id, value, version, read, write)
     select 'bench', 'k' || k, d.user_id, ('{"hp":' || k || '}')::jsonb, md5('{"hp":' || k || '}'), 1, 1
     from user_device d cross join generate_series(0, $1 - 1) k
     where d.id like 'bench-storage-%'`,
    [settings.storageKeys],
  );
  await sql(url, 'analyze storage');
}

/** Request `n` of a storage scenario: user n mod U, key ⌊n / U⌋ mod K. */
function storageRequest(scenario: 'write' | 'read', users: StorageUser[], n: number): BenchRequest {
  const user = users[n % users.length]!;
  const k = Math.floor(n / users.length) % settings.storageKeys;
  const headers = { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' };
  return scenario === 'write'
    ? {
        method: 'PUT',
        path: '/v2/storage',
        headers,
        body: JSON.stringify({ objects: [{ collection: 'bench', key: `k${k}`, value: JSON.stringify({ hp: n }) }] }),
      }
    : {
        method: 'POST',
        path: '/v2/storage',
        headers,
        body: JSON.stringify({ object_ids: [{ collection: 'bench', key: `k${k}`, user_id: user.uid }] }),
      };
}

/** Checks one storage answer by hand: an ack with an MD5 version, or the object written. */
async function probeStorage(target: ChildServer, scenario: 'write' | 'read', users: StorageUser[]): Promise<void> {
  const req = storageRequest(scenario, users, 0);
  const res = await fetch(target.url + req.path, { method: req.method, headers: req.headers, body: req.body });
  const body = (await res.json()) as {
    acks?: { key: string; user_id: string; version: string }[];
    objects?: { key: string; user_id: string; value: string }[];
  };
  const ok =
    res.status === 200 &&
    (scenario === 'write'
      ? body.acks?.length === 1 && body.acks[0]!.user_id === users[0]!.uid && /^[0-9a-f]{32}$/.test(body.acks[0]!.version)
      : body.objects?.length === 1 && body.objects[0]!.user_id === users[0]!.uid && typeof body.objects[0]!.value === 'string');
  if (!ok) throw new Error(`${target.name}: unexpected storage ${scenario} answer: ${res.status} ${JSON.stringify(body)}`);
}

async function countStorage(url: string): Promise<number> {
  return Number((await sql(url, "select count(*)::int as n from storage where collection = 'bench'")).rows[0].n);
}

async function main(): Promise<void> {
  const started = Date.now();
  const cores = machine().cores;
  const pin = env.BENCH_PIN !== '0' && cores >= 2 && hasTaskset();
  const cpus = { loadgen: env.BENCH_CPUS_LOADGEN || '0', server: env.BENCH_CPUS_SERVER || '1', postgres: env.BENCH_CPUS_POSTGRES || '' };

  let cluster: PgCluster | undefined;
  let adminUrl = env.BENCH_DATABASE_URL;
  if (!adminUrl) {
    log('starting a throwaway PostgreSQL cluster');
    cluster = await startPostgres();
    const c = cluster;
    cleanups.push(() => c.stop());
    adminUrl = cluster.url();
  }
  const pgData = cluster ? path.join(cluster.dir, 'data') : '';
  const suffix = cluster ? '' : `_${process.pid}`;
  const scenarios = new Set((env.BENCH_SCENARIOS || 'auth,leaderboard,storage,relay').split(',').map((x) => x.trim()));
  if (scenarios.has('leaderboard')) {
    const lb = await leaderboardBench({
      adminUrl,
      suffix,
      records: num('BENCH_LB_RECORDS', 1_000_000),
      samples: num('BENCH_LB_SAMPLES', 2000),
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
    const relayDb = `bench_relay${suffix}`;
    const relayUrl = await createDatabase(adminUrl, relayDb);
    if (!cluster) {
      const admin = adminUrl;
      cleanups.push(() => sql(admin, `drop database if exists "${relayDb}" with (force)`).then(() => undefined));
    }
    if (pin) pinProcess(process.pid, cpus.loadgen);
    const relay = await relayBench({
      databaseUrl: relayUrl,
      clientCounts: (env.BENCH_RELAY_CLIENTS || '500,1000').split(',').map((x) => {
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
    process.stdout.write(`\n${relay.table}\n`);
    if (relay.problems.length > 0) {
      const bar = '!'.repeat(78);
      process.stdout.write(
        `\n${bar}\n!!! WARNING: THESE NUMBERS ARE NOT VALID\n${relay.problems.map((i) => `!!! ${i}`).join('\n')}\n${bar}\n`,
      );
      process.exitCode = 1;
    }
    process.stdout.write(`\nResults: ${relay.file}\n`);
  }
  if (!scenarios.has('auth') && !scenarios.has('storage')) return;
  const dbNames = { tavern: `bench_tavern${suffix}`, baseline: `bench_baseline${suffix}` };
  const urls = { tavern: await createDatabase(adminUrl, dbNames.tavern), baseline: await createDatabase(adminUrl, dbNames.baseline) };
  if (!cluster) {
    const admin = adminUrl;
    cleanups.push(async () => {
      for (const name of Object.values(dbNames)) await sql(admin, `drop database if exists "${name}" with (force)`);
    });
  }
  for (const statement of migrationSql()) await sql(urls.baseline, statement);

  let layout = `load generator, servers and PostgreSQL share all ${cores} cores (no pinning)`;
  if (pin) {
    if (cluster && cpus.postgres) for (const pid of clusterCpu(pgData).keys()) pinProcess(pid, cpus.postgres);
    pinProcess(process.pid, cpus.loadgen);
    layout =
      `load generator (autocannon, this process) on CPU ${cpus.loadgen}, servers on CPU ${cpus.server}, ` +
      (cpus.postgres ? `PostgreSQL on CPU ${cpus.postgres}` : `PostgreSQL unpinned (shares all ${cores} cores)`);
  }
  log(layout);

  const tavernPort = await freePort();
  log('starting Tavern');
  const tavern = await startChildServer({
    name: 'Tavern',
    script: 'src/main.ts',
    port: tavernPort,
    cpus: pin ? cpus.server : undefined,
    env: {
      TAVERN_PORT: String(tavernPort),
      DATABASE_URL: urls.tavern,
      TAVERN_RATE_LIMIT_REQUESTS: '0',
      TAVERN_LOG_LEVEL: 'warn',
      TAVERN_LOG_FORMAT: 'json',
      TAVERN_SHUTDOWN_GRACE_SEC: '2',
      TAVERN_TOKEN_EXPIRY_SEC: '86400',
      NODE_ENV: 'development',
    },
  });
  cleanups.push(() => tavern.stop());
  const baselinePort = await freePort();
  log('starting the baseline');
  const baseline = await startChildServer({
    name: 'baseline',
    script: 'loadtest/baseline-server.ts',
    port: baselinePort,
    cpus: pin ? cpus.server : undefined,
    env: {
      PORT: String(baselinePort),
      DATABASE_URL: urls.baseline,
      POOL_SIZE: String(settings.poolSize),
      TAVERN_TOKEN_EXPIRY_SEC: '86400',
    },
  });
  cleanups.push(() => baseline.stop());

  const targets = [
    { key: 'tavern' as const, server: tavern },
    { key: 'baseline' as const, server: baseline },
  ];

  /** Warm-up then one measured run of `scenario` against `server`, with CPU use, into `runs` and `raw`. */
  const measure = async (
    scenario: string,
    key: 'tavern' | 'baseline',
    server: ChildServer,
    next: (phase: string) => NextRequest,
    runs: RunSummary[],
    raw: Record<string, unknown>,
    countRows?: () => Promise<number>,
  ): Promise<void> => {
    log(`${scenario} / ${key}: warm-up ${settings.warmupSec} s`);
    await load(server, next('warmup'), settings.warmupSec);
    const rowsBefore = countRows ? await countRows() : 0;
    const pgBefore = cluster ? clusterCpu(pgData) : undefined;
    const serverBefore = cpuSeconds(server.pid) ?? 0;
    const genBefore = process.cpuUsage();
    const machineBefore = machineBusySeconds();
    log(`${scenario} / ${key}: measuring ${settings.durationSec} s`);
    const t0 = performance.now();
    const result = await load(server, next('run'), settings.durationSec);
    const wall = (performance.now() - t0) / 1000;
    const gen = process.cpuUsage(genBefore);
    const machineAfter = machineBusySeconds();
    const cpuPct: RunSummary['cpuPct'] = {
      server: (((cpuSeconds(server.pid) ?? serverBefore) - serverBefore) / wall) * 100,
      ...(cluster && pgBefore ? { postgres: (clusterCpuDelta(pgBefore, clusterCpu(pgData)) / wall) * 100 } : {}),
      loadGenerator: ((gen.user + gen.system) / 1e6 / wall) * 100,
    };
    if (machineBefore !== undefined && machineAfter !== undefined) {
      cpuPct.machine = ((machineAfter - machineBefore) / wall) * 100;
      if (cpuPct.postgres !== undefined)
        cpuPct.otherProcesses = Math.max(0, cpuPct.machine - cpuPct.server - cpuPct.postgres - cpuPct.loadGenerator);
    }
    const created = countRows ? (await countRows()) - rowsBefore : undefined;
    runs.push(summarize(scenario, key, result, cpuPct, created));
    raw[`${scenario}/${key}`] = {
      requests: result.requests,
      latency: result.latency,
      throughput: result.throughput,
      statusCodeStats: result.statusCodeStats,
    };
  };

  /** Prints the tables (loudly warning about failed requests) and writes the JSON file. */
  const report = (name: string, title: string, runs: RunSummary[], raw: Record<string, unknown>, extra: Record<string, unknown>) => {
    const info = machine();
    const table = markdown(runs, info, settings, layout, title);
    const issues = problems(runs);
    process.stdout.write(`\n${table}\n`);
    if (issues.length > 0) {
      const bar = '!'.repeat(78);
      process.stdout.write(`\n${bar}\n!!! WARNING: THESE NUMBERS ARE NOT VALID\n${issues.map((i) => `!!! ${i}`).join('\n')}\n${bar}\n`);
      process.exitCode = 1;
    }
    const busy = noise(runs);
    if (busy.length > 0) {
      process.stdout.write(
        `\nWARNING: the machine was not quiet, these numbers understate both servers:\n${busy.map((b) => `  - ${b}`).join('\n')}\n`,
      );
    }
    const file = writeResults(name, {
      benchmark: title,
      date: new Date().toISOString(),
      machine: info,
      settings: {
        ...settings,
        ...extra,
        layout,
        database: cluster ? 'throwaway cluster (fsync=off, synchronous_commit=off)' : 'BENCH_DATABASE_URL',
      },
      runs,
      problems: issues,
      noise: busy,
      autocannon: raw,
    });
    process.stdout.write(`\nResults: ${file}\n`);
  };

  if (scenarios.has('auth')) {
    log(`pre-creating ${settings.existingDevices} devices in each database`);
    await precreateDevices(urls.tavern, settings.existingDevices);
    await precreateDevices(urls.baseline, settings.existingDevices);
    const runs: RunSummary[] = [];
    const raw: Record<string, unknown> = {};
    for (const scenario of ['new', 'existing'] as const) {
      for (const { key, server } of targets) {
        let n = 0;
        const next =
          scenario === 'new'
            ? (phase: string) => () => authRequest(`bench-new-${runId}-${key}-${phase}-${n++}`)
            : (_phase: string) => () => authRequest(existingId(n++));
        await probe(server, scenario === 'new' ? `bench-probe-${runId}-${key}` : existingId(0), scenario === 'new');
        await measure(scenario, key, server, next, runs, raw, () => countUsers(urls[key]));
      }
    }
    report('auth', 'Device authentication', runs, raw, {});
  }

  if (scenarios.has('storage')) {
    log(`creating ${settings.storageUsers} storage users with ${settings.storageKeys} objects each on each server`);
    const users = { tavern: await storageUsers(tavern), baseline: await storageUsers(baseline) };
    await seedStorage(urls.tavern);
    await seedStorage(urls.baseline);
    const expected = settings.storageUsers * settings.storageKeys;
    const runs: RunSummary[] = [];
    const raw: Record<string, unknown> = {};
    for (const scenario of ['write', 'read'] as const) {
      for (const { key, server } of targets) {
        let n = 0;
        const next = (_phase: string) => () => storageRequest(scenario, users[key], n++);
        await probeStorage(server, scenario, users[key]);
        await measure(scenario, key, server, next, runs, raw);
        const rows = await countStorage(urls[key]);
        if (rows !== expected) {
          process.stdout.write(`\n!!! WARNING: ${key} has ${rows} bench storage objects after ${scenario}, expected ${expected}\n`);
          process.exitCode = 1;
        }
      }
    }
    report('storage', `Storage (${settings.storageUsers} users, ${settings.storageKeys} keys each)`, runs, raw, {
      storageUsers: settings.storageUsers,
      storageKeys: settings.storageKeys,
      tokenExpirySec: 86400,
    });
  }
  process.stdout.write(`\nTotal time: ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
