/**
 * Relay scenario of `npm run bench`: round trip of relayed match data through Tavern's `match`
 * room against a bare Colyseus relay room (loadtest/relay-baseline-server.ts), in the same run, with
 * the same `@colyseus/sdk` clients in this process.
 *
 * For each client count N (BENCH_RELAY_CLIENTS, default `500,1000`) and each server in turn: N
 * clients in rooms of BENCH_RELAY_GROUP (10) — the first of a group `create`s the room, the others
 * `joinById` — each sending `match_data_send` {op_code, data} at BENCH_RELAY_RATE (10) per second,
 * the sends spread evenly over the period. `data` is the base64 of the send time
 * (`performance.now()`, this process's clock) padded to BENCH_RELAY_PAYLOAD (48) bytes, so both
 * servers get byte-identical messages. After the warm-up, every `match_data` whose send time falls in
 * the measured window counts: latency = receive − send time (p50/p99), deliveries per second, and
 * the server's CPU per delivery. Sending stops at the end of the window, then the bench waits for
 * the last deliveries; a lost message, an `error` message or a dropped client is a problem.
 *
 * Tavern gets device-authenticated clients (`client.auth.token`), TAVERN_RATE_LIMIT_REQUESTS=0 and
 * TAVERN_MAX_MESSAGES_PER_SECOND well above the send rate, so flow control never interferes.
 *
 * Then, with both servers stopped, the state sync cost of loadtest/state-sync.ts.
 */
import { randomBytes } from 'node:crypto';
import { createHistogram, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, type Room } from '@colyseus/sdk';
import { freePort } from '../test/support/ports.js';
import { writeResults } from './report.js';
import { stateSyncBench, stateSyncMarkdown } from './state-sync.js';
import { cpuSeconds, machine, machineBusySeconds, startChildServer, type ChildServer } from './support.js';

export interface RelayBenchOptions {
  /** A database for Tavern (only device accounts are written). */
  databaseUrl: string;
  clientCounts: number[];
  groupSize: number;
  /** Sends per client per second. */
  rate: number;
  /** Bytes of each message's payload before base64. */
  payloadBytes: number;
  warmupSec: number;
  durationSec: number;
  /** The state sync part (loadtest/state-sync.ts): entities moving at 20 Hz, ticks measured. */
  syncEntities: number;
  syncTicks: number;
  /** CPU list to pin both servers to (taskset), if any. */
  cpus?: string | undefined;
  layout: string;
  log: (msg: string) => void;
}

export interface RelayRun {
  target: 'tavern' | 'baseline';
  clients: number;
  rooms: number;
  seconds: number;
  sent: number;
  sentPerSec: number;
  delivered: number;
  expected: number;
  deliveredPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; avg: number };
  errors: number;
  droppedClients: number;
  cpuPct: { server: number; loadGenerator: number; machine?: number; otherProcesses?: number };
  /** Server CPU time per delivered message, in µs. */
  serverCpuUsPerDelivery: number;
  connectSec: number;
}

const AUTH = `Basic ${Buffer.from('defaultkey:').toString('base64')}`;
const OP_CODE = 1;

/** The base64 `data` of a message sent at `t`: the time as text, then padding to `bytes`. */
function payload(t: number, bytes: number): string {
  const s = t.toFixed(3);
  return Buffer.from(s + ' '.repeat(Math.max(0, bytes - s.length)), 'latin1').toString('base64');
}
const sentAt = (data: string) => parseFloat(Buffer.from(data, 'base64').toString('latin1'));

/** Runs `fn` over `items` with at most `limit` at a time. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
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

async function deviceTokens(url: string, n: number, runId: string): Promise<string[]> {
  return pool(
    Array.from({ length: n }, (_, i) => i),
    32,
    async (i) => {
      const res = await fetch(`${url}/v2/account/authenticate/device?create=true`, {
        method: 'POST',
        headers: { authorization: AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ id: `bench-relay-${runId}-${i}` }),
      });
      const body = (await res.json()) as { token?: string };
      if (res.status !== 200 || typeof body.token !== 'string')
        throw new Error(`Tavern: device auth failed: ${res.status} ${JSON.stringify(body)}`);
      return body.token;
    },
  );
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export async function relayBench(opts: RelayBenchOptions): Promise<{ table: string; file: string; problems: string[] }> {
  const { log } = opts;
  const cleanups: (() => Promise<void>)[] = [];
  const runs: RelayRun[] = [];
  const samples: Record<string, unknown> = {};
  try {
    const tavernPort = await freePort();
    log('relay: starting Tavern');
    const tavern = await startChildServer({
      name: 'Tavern',
      script: 'src/main.ts',
      port: tavernPort,
      cpus: opts.cpus,
      env: {
        TAVERN_PORT: String(tavernPort),
        DATABASE_URL: opts.databaseUrl,
        TAVERN_RATE_LIMIT_REQUESTS: '0',
        TAVERN_MAX_MESSAGES_PER_SECOND: String(Math.max(1000, opts.rate * 10)),
        TAVERN_LOG_LEVEL: 'warn',
        TAVERN_LOG_FORMAT: 'json',
        TAVERN_SHUTDOWN_GRACE_SEC: '2',
        TAVERN_TOKEN_EXPIRY_SEC: '86400',
        NODE_ENV: 'development',
      },
    });
    cleanups.push(() => tavern.stop());
    const baselinePort = await freePort();
    log('relay: starting the baseline');
    const baseline = await startChildServer({
      name: 'baseline',
      script: 'loadtest/relay-baseline-server.ts',
      port: baselinePort,
      cpus: opts.cpus,
      env: { PORT: String(baselinePort) },
    });
    cleanups.push(() => baseline.stop());

    const maxClients = Math.max(...opts.clientCounts);
    log(`relay: authenticating ${maxClients} devices on Tavern`);
    const tokens = await deviceTokens(tavern.url, maxClients, randomBytes(4).toString('hex'));

    for (const n of opts.clientCounts) {
      for (const target of ['tavern', 'baseline'] as const) {
        const server = target === 'tavern' ? tavern : baseline;
        const run = await relayRun(opts, target, server, n, target === 'tavern' ? tokens : undefined);
        runs.push(run.summary);
        samples[`${target}/${n}`] = run.sample;
      }
    }
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log(`relay cleanup: ${(err as Error).message}`));
  }

  const problems: string[] = [];
  for (const r of runs) {
    const lost = r.expected - r.delivered;
    if (lost !== 0 || r.errors > 0 || r.droppedClients > 0)
      problems.push(
        `relay/${r.target}/${r.clients}: ${lost} messages lost of ${r.expected}, ${r.errors} errors, ${r.droppedClients} clients dropped`,
      );
    const offered = r.clients * opts.rate;
    if (r.sentPerSec < offered * 0.95)
      problems.push(
        `relay/${r.target}/${r.clients}: sent ${fmt(r.sentPerSec)}/s, below the offered ${fmt(offered)}/s (load generator saturated?)`,
      );
  }
  log(`relay: state sync, ${opts.syncEntities} entities, ${opts.syncTicks} ticks`);
  const sync = stateSyncBench({ entities: opts.syncEntities, hz: 20, ticks: opts.syncTicks });
  const info = machine();
  const table = `${relayMarkdown(runs, opts, info)}\n\n${stateSyncMarkdown(sync)}`;
  const file = writeResults('relay', {
    benchmark: 'Relayed match data round trip',
    date: new Date().toISOString(),
    machine: info,
    settings: {
      clientCounts: opts.clientCounts,
      groupSize: opts.groupSize,
      ratePerClient: opts.rate,
      payloadBytes: opts.payloadBytes,
      warmupSec: opts.warmupSec,
      durationSec: opts.durationSec,
      layout: opts.layout,
    },
    runs,
    stateSync: sync,
    problems,
    sampleMessages: samples,
  });
  return { table, file, problems };
}

/** One target at one client count: connect, warm up, measure, drain, disconnect. */
async function relayRun(
  opts: RelayBenchOptions,
  target: 'tavern' | 'baseline',
  server: ChildServer,
  n: number,
  tokens: string[] | undefined,
): Promise<{ summary: RelayRun; sample: unknown }> {
  const { log, groupSize } = opts;
  const roomName = target === 'tavern' ? 'match' : 'relay';
  const histogram = createHistogram();
  let windowStart = Infinity;
  let windowEnd = Infinity;
  let delivered = 0;
  let errors = 0;
  let dropped = 0;
  let leaving = false;
  let sample: unknown;
  const errorSamples: string[] = [];

  const wire = (room: Room) => {
    room.onMessage('match_data', (m: { data: string }) => {
      const now = performance.now();
      const t = sentAt(m.data);
      sample ??= m;
      if (t >= windowStart && t < windowEnd) {
        delivered++;
        histogram.record(Math.max(1, Math.round((now - t) * 1000)));
      }
    });
    room.onMessage('*', (type: string | number, m: unknown) => {
      if (type === 'error') {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(JSON.stringify(m));
      }
    });
    room.onError((code, message) => {
      errors++;
      if (errorSamples.length < 5) errorSamples.push(`${code} ${message}`);
    });
    room.onLeave(() => {
      if (!leaving) dropped++;
    });
    return room;
  };
  const client = (i: number) => {
    const c = new Client(server.url);
    if (tokens) c.auth.token = tokens[i]!;
    return c;
  };

  log(`relay / ${target} / ${n} clients: connecting`);
  const t0 = performance.now();
  const groups = Array.from({ length: Math.ceil(n / groupSize) }, (_, g) => g);
  const rooms = (
    await pool(groups, 16, async (g) => {
      const first = g * groupSize;
      const last = Math.min(n, first + groupSize);
      const creator = wire(await client(first).create(roomName, {}));
      const others = await Promise.all(
        Array.from({ length: last - first - 1 }, async (_, k) => wire(await client(first + 1 + k).joinById(creator.roomId))),
      );
      return [creator, ...others];
    })
  ).flat();
  const connectSec = (performance.now() - t0) / 1000;
  const fanout = (i: number) => Math.min(groupSize, n - Math.floor(i / groupSize) * groupSize) - 1;

  // Every client sends every `period` ms, the clients' phases spread evenly over the period.
  const period = 1000 / opts.rate;
  let sent = 0;
  let expected = 0;
  const timers: NodeJS.Timeout[] = [];
  const starters: NodeJS.Timeout[] = [];
  const send = (i: number) => {
    const t = performance.now();
    rooms[i]!.send('match_data_send', { op_code: OP_CODE, data: payload(t, opts.payloadBytes) });
    if (t >= windowStart && t < windowEnd) {
      sent++;
      expected += fanout(i);
    }
  };
  rooms.forEach((_, i) => {
    starters.push(
      setTimeout(
        () => {
          send(i);
          timers.push(setInterval(() => send(i), period));
        },
        (i * period) / n,
      ),
    );
  });

  log(`relay / ${target} / ${n} clients: warm-up ${opts.warmupSec} s (connected in ${connectSec.toFixed(1)} s)`);
  await sleep(opts.warmupSec * 1000);
  const serverBefore = cpuSeconds(server.pid) ?? 0;
  const genBefore = process.cpuUsage();
  const machineBefore = machineBusySeconds();
  log(`relay / ${target} / ${n} clients: measuring ${opts.durationSec} s`);
  windowStart = performance.now();
  windowEnd = windowStart + opts.durationSec * 1000;
  await sleep(opts.durationSec * 1000);
  const wall = (performance.now() - windowStart) / 1000;
  const serverCpu = (cpuSeconds(server.pid) ?? serverBefore) - serverBefore;
  const gen = process.cpuUsage(genBefore);
  const machineAfter = machineBusySeconds();
  for (const t of starters) clearTimeout(t);
  for (const t of timers) clearInterval(t);
  // The last deliveries of the window.
  const drainUntil = performance.now() + 5000;
  while (delivered < expected && performance.now() < drainUntil) await sleep(50);

  leaving = true;
  await Promise.all(rooms.map((r) => r.leave(true).catch(() => undefined)));
  await sleep(500);

  const cpuPct: RelayRun['cpuPct'] = {
    server: (serverCpu / wall) * 100,
    loadGenerator: ((gen.user + gen.system) / 1e6 / wall) * 100,
  };
  if (machineBefore !== undefined && machineAfter !== undefined) {
    cpuPct.machine = ((machineAfter - machineBefore) / wall) * 100;
    cpuPct.otherProcesses = Math.max(0, cpuPct.machine - cpuPct.server - cpuPct.loadGenerator);
  }
  const ms = (v: number) => v / 1000;
  const summary: RelayRun = {
    target,
    clients: n,
    rooms: groups.length,
    seconds: opts.durationSec,
    sent,
    sentPerSec: sent / opts.durationSec,
    delivered,
    expected,
    deliveredPerSec: delivered / opts.durationSec,
    latencyMs: {
      p50: ms(histogram.percentile(50)),
      p90: ms(histogram.percentile(90)),
      p99: ms(histogram.percentile(99)),
      max: ms(histogram.max),
      avg: ms(histogram.mean),
    },
    errors,
    droppedClients: dropped,
    cpuPct,
    serverCpuUsPerDelivery: delivered > 0 ? (serverCpu * 1e6) / delivered : 0,
    connectSec,
  };
  if (errorSamples.length > 0) log(`relay / ${target} / ${n}: errors, e.g. ${errorSamples.join(' | ')}`);
  return { summary, sample };
}

function relayMarkdown(runs: RelayRun[], opts: RelayBenchOptions, info: ReturnType<typeof machine>): string {
  const out: string[] = [];
  out.push(
    `Relayed match data, rooms of ${opts.groupSize}, ${opts.rate} msg/s per client, ${opts.payloadBytes}-byte payload, ` +
      `${opts.durationSec} s per run (after ${opts.warmupSec} s warm-up)`,
  );
  out.push('');
  out.push(
    '| clients | Tavern delivered/s | baseline delivered/s | ratio (Tavern/baseline) | Tavern p50/p99 | baseline p50/p99 | Tavern server CPU µs/delivery | baseline server CPU µs/delivery | CPU ratio |',
  );
  out.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const n of opts.clientCounts) {
    const t = runs.find((r) => r.clients === n && r.target === 'tavern');
    const b = runs.find((r) => r.clients === n && r.target === 'baseline');
    if (!t || !b) continue;
    const lat = (r: RelayRun) => `${fmt(r.latencyMs.p50, 1)} / ${fmt(r.latencyMs.p99, 1)} ms`;
    out.push(
      `| ${fmt(n)} | ${fmt(t.deliveredPerSec)} | ${fmt(b.deliveredPerSec)} | ${fmt(t.deliveredPerSec / b.deliveredPerSec, 2)} | ${lat(t)} | ${lat(b)} | ` +
        `${fmt(t.serverCpuUsPerDelivery, 1)} | ${fmt(b.serverCpuUsPerDelivery, 1)} | ${fmt(t.serverCpuUsPerDelivery / b.serverCpuUsPerDelivery, 2)} |`,
    );
  }
  out.push('');
  out.push(
    '| clients | target | sent/s | delivered | expected | errors | dropped | p90 / max latency | server CPU | load generator CPU | other processes CPU | connect |',
  );
  out.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of runs) {
    out.push(
      `| ${fmt(r.clients)} | ${r.target} | ${fmt(r.sentPerSec)} | ${fmt(r.delivered)} | ${fmt(r.expected)} | ${r.errors} | ${r.droppedClients} | ` +
        `${fmt(r.latencyMs.p90, 1)} / ${fmt(r.latencyMs.max, 1)} ms | ${fmt(r.cpuPct.server)} % | ${fmt(r.cpuPct.loadGenerator)} % | ` +
        `${r.cpuPct.otherProcesses === undefined ? 'n/a' : `${fmt(r.cpuPct.otherProcesses)} %`} | ${fmt(r.connectSec, 1)} s |`,
    );
  }
  out.push('');
  out.push(`Machine: ${info.cpu}, ${info.cores} cores, Node ${info.node}, ${info.os}`);
  out.push(`Layout: ${opts.layout}`);
  out.push(
    `CPU columns: % of one core during the measured run, out of ${info.cores * 100} %. Latency: receive − send time on this process's clock, ` +
      'so it includes the load generator\u2019s own queueing. Tavern relays {match_id, presence, op_code, data, reliable} to each member ' +
      '(one encode per recipient); the baseline broadcasts the client\u2019s message as is (one encode per message).',
  );
  return out.join('\n');
}
