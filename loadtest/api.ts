/**
 * The HTTP API scenarios of `npm run bench` (auth and storage): Tavern against a minimal baseline
 * (loadtest/baseline-server.ts: raw node:http + pg + jsonwebtoken doing the same SQL and JWT work),
 * both child processes on their own database, loaded in turn by autocannon in this process with the
 * same settings, each run preceded by a short warm-up of the same kind.
 *
 * AUTH: NEW (each request a new device id: SELECT miss + a two-insert transaction) and EXISTING
 * (cycling through pre-created devices: one SELECT join).
 * STORAGE: `storageUsers` device accounts, each with `storageKeys` objects `bench/k<n>` written
 * beforehand, their session tokens used round-robin. WRITE: `PUT /v2/storage` of one object,
 * unconditional overwrite, the key rotating per user; READ: `POST /v2/storage` of one own object by id.
 *
 * Prints its tables on stdout and sets `process.exitCode = 1` when a run had failed requests.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import autocannon from 'autocannon';
import { createDatabase, type PgCluster } from '../test/support/postgres.js';
import { freePort } from '../test/support/ports.js';
import { markdown, noise, problems, summarize, writeResults, type RunSummary } from './report.js';
import {
  clusterCpu,
  clusterCpuDelta,
  cpuSeconds,
  machine,
  machineBusySeconds,
  migrationSql,
  pinProcess,
  sql,
  startChildServer,
  tavernEnv,
  type ChildServer,
} from './support.js';

export type ApiBenchSettings = {
  durationSec: number;
  warmupSec: number;
  connections: number;
  existingDevices: number;
  storageUsers: number;
  storageKeys: number;
  /** Tavern's default TAVERN_DB_POOL_SIZE; the baseline gets the same. */
  poolSize: number;
};

export interface ApiBenchOptions {
  adminUrl: string;
  /** The throwaway cluster when there is one (CPU accounting, database cleanup), else undefined. */
  cluster: PgCluster | undefined;
  /** Appended to database names (a shared BENCH_DATABASE_URL server gets per-run names). */
  suffix: string;
  auth: boolean;
  storage: boolean;
  settings: ApiBenchSettings;
  /** Pin with taskset: this process, the servers and (optionally) PostgreSQL. */
  pin: boolean;
  cpus: { loadgen: string; server: string; postgres: string };
  /** Registers something to undo on exit (also on SIGINT). */
  defer: (fn: () => Promise<void> | void) => void;
  log: (msg: string) => void;
}

const AUTH = `Basic ${Buffer.from('defaultkey:').toString('base64')}`;
const PATH = '/v2/account/authenticate/device?create=true';
const runId = randomBytes(4).toString('hex');

/** One request of a run: method, path, headers and body, made afresh for every request. */
interface BenchRequest {
  method: 'POST' | 'PUT';
  path: string;
  headers: Record<string, string>;
  body: string;
}
type NextRequest = () => BenchRequest;

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
async function storageUsers(target: ChildServer, count: number): Promise<StorageUser[]> {
  const out: StorageUser[] = [];
  for (let i = 0; i < count; i++) {
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
async function seedStorage(url: string, keys: number): Promise<void> {
  await sql(
    url,
    `insert into storage (collection, key, user_id, value, version, read, write)
     select 'bench', 'k' || k, d.user_id, ('{"hp":' || k || '}')::jsonb, md5('{"hp":' || k || '}'), 1, 1
     from user_device d cross join generate_series(0, $1 - 1) k
     where d.id like 'bench-storage-%'`,
    [keys],
  );
  await sql(url, 'analyze storage');
}

/** Request `n` of a storage scenario: user n mod U, key ⌊n / U⌋ mod K. */
function storageRequest(scenario: 'write' | 'read', users: StorageUser[], keys: number, n: number): BenchRequest {
  const user = users[n % users.length]!;
  const k = Math.floor(n / users.length) % keys;
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
async function probeStorage(target: ChildServer, scenario: 'write' | 'read', users: StorageUser[], keys: number): Promise<void> {
  const req = storageRequest(scenario, users, keys, 0);
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

export async function apiBench(opts: ApiBenchOptions): Promise<void> {
  const { settings, cluster, cpus, log } = opts;
  const cores = machine().cores;
  const pgData = cluster ? path.join(cluster.dir, 'data') : '';
  const existingId = (i: number) => `bench-existing-${String(i % settings.existingDevices).padStart(6, '0')}`;
  const load = (target: ChildServer, next: NextRequest, seconds: number): Promise<autocannon.Result> =>
    autocannon({
      url: target.url,
      connections: settings.connections,
      duration: seconds,
      timeout: 10,
      requests: [{ setupRequest: (req) => ({ ...req, ...next() }) }],
    });

  const dbNames = { tavern: `bench_tavern${opts.suffix}`, baseline: `bench_baseline${opts.suffix}` };
  const urls = {
    tavern: await createDatabase(opts.adminUrl, dbNames.tavern),
    baseline: await createDatabase(opts.adminUrl, dbNames.baseline),
  };
  if (!cluster) {
    const admin = opts.adminUrl;
    opts.defer(async () => {
      for (const name of Object.values(dbNames)) await sql(admin, `drop database if exists "${name}" with (force)`);
    });
  }
  for (const statement of migrationSql()) await sql(urls.baseline, statement);

  let layout = `load generator, servers and PostgreSQL share all ${cores} cores (no pinning)`;
  if (opts.pin) {
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
    cpus: opts.pin ? cpus.server : undefined,
    env: tavernEnv(tavernPort, urls.tavern),
  });
  opts.defer(() => tavern.stop());
  const baselinePort = await freePort();
  log('starting the baseline');
  const baseline = await startChildServer({
    name: 'baseline',
    script: 'loadtest/baseline-server.ts',
    port: baselinePort,
    cpus: opts.pin ? cpus.server : undefined,
    env: {
      PORT: String(baselinePort),
      DATABASE_URL: urls.baseline,
      POOL_SIZE: String(settings.poolSize),
      TAVERN_TOKEN_EXPIRY_SEC: '86400',
    },
  });
  opts.defer(() => baseline.stop());

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

  if (opts.auth) {
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

  if (opts.storage) {
    const keys = settings.storageKeys;
    log(`creating ${settings.storageUsers} storage users with ${keys} objects each on each server`);
    const users = {
      tavern: await storageUsers(tavern, settings.storageUsers),
      baseline: await storageUsers(baseline, settings.storageUsers),
    };
    await seedStorage(urls.tavern, keys);
    await seedStorage(urls.baseline, keys);
    const expected = settings.storageUsers * keys;
    const runs: RunSummary[] = [];
    const raw: Record<string, unknown> = {};
    for (const scenario of ['write', 'read'] as const) {
      for (const { key, server } of targets) {
        let n = 0;
        const next = (_phase: string) => () => storageRequest(scenario, users[key], keys, n++);
        await probeStorage(server, scenario, users[key], keys);
        await measure(scenario, key, server, next, runs, raw);
        const rows = await countStorage(urls[key]);
        if (rows !== expected) {
          process.stdout.write(`\n!!! WARNING: ${key} has ${rows} bench storage objects after ${scenario}, expected ${expected}\n`);
          process.exitCode = 1;
        }
      }
    }
    report('storage', `Storage (${settings.storageUsers} users, ${keys} keys each)`, runs, raw, {
      storageUsers: settings.storageUsers,
      storageKeys: keys,
      tokenExpirySec: 86400,
    });
  }
}
