/**
 * The client side of the relay benchmarks (loadtest/relay.ts, loadtest/fleet.ts): device tokens,
 * and one measured run of `@colyseus/sdk` clients relaying match data through rooms of one or more
 * server processes.
 *
 * A run: N clients in rooms of `groupSize` — group g's clients talk HTTP to `servers[g mod P]`, its
 * first client `create`s the room, the others `joinById`; each client's WebSocket goes where the
 * seat reservation says (the room's process, by its public address). Each client sends
 * `match_data_send` {op_code, data} at `rate` per second, the sends spread evenly over the period;
 * `data` is the base64 of the send time (`performance.now()`, this process's clock) padded to
 * `payloadBytes`. After the warm-up, every `match_data` whose send time falls in the measured window
 * counts: latency = receive − send time, deliveries per second, the servers' CPU per delivery.
 * Sending stops at the end of the window, then the run waits up to 5 s for the last deliveries.
 */
import { createHistogram, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, type Room } from '@colyseus/sdk';
import { cpuSeconds, fmt, machineBusySeconds, percentiles, pool } from './support.js';

const AUTH = `Basic ${Buffer.from('defaultkey:').toString('base64')}`;
const OP_CODE = 1;

/** A server process clients talk to: its HTTP base URL and pid (for CPU accounting). */
export interface RelayServer {
  url: string;
  pid: number;
}

export interface RelayRunOptions {
  groupSize: number;
  /** Sends per client per second. */
  rate: number;
  /** Bytes of each message's payload before base64. */
  payloadBytes: number;
  warmupSec: number;
  durationSec: number;
  /** Prefix of log lines (`relay`, `fleet`). */
  scenario: string;
  log: (msg: string) => void;
}

export interface RelayRun {
  target: string;
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
  /** `server` sums every server process of the run. */
  cpuPct: { server: number; loadGenerator: number; machine?: number; otherProcesses?: number };
  /** Server CPU time (all processes) per delivered message, in µs. */
  serverCpuUsPerDelivery: number;
  connectSec: number;
  /** Rooms per WebSocket host (`127.0.0.1:<port>`): where Colyseus placed them. */
  roomsByHost: Record<string, number>;
}

/** The base64 `data` of a message sent at `t`: the time as text, then padding to `bytes`. */
function payload(t: number, bytes: number): string {
  const s = t.toFixed(3);
  return Buffer.from(s + ' '.repeat(Math.max(0, bytes - s.length)), 'latin1').toString('base64');
}
const sentAt = (data: string) => parseFloat(Buffer.from(data, 'base64').toString('latin1'));

/** Device-authenticates `n` new devices `<prefix>-<i>` and returns their session tokens. */
export async function deviceTokens(url: string, n: number, prefix: string): Promise<string[]> {
  return pool(
    Array.from({ length: n }, (_, i) => i),
    32,
    async (i) => {
      const res = await fetch(`${url}/v2/account/authenticate/device?create=true`, {
        method: 'POST',
        headers: { authorization: AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ id: `${prefix}-${i}` }),
      });
      const body = (await res.json()) as { token?: string };
      if (res.status !== 200 || typeof body.token !== 'string')
        throw new Error(`Tavern: device auth failed: ${res.status} ${JSON.stringify(body)}`);
      return body.token;
    },
  );
}

/**
 * An SDK client whose rooms accept every message type from their first frame (the server sends
 * `channel`, presence events … during the join; the SDK would print a warning for each type
 * nobody registered).
 */
class BenchClient extends Client {
  protected override createRoom<T>(roomName: string, rootSchema?: Parameters<Client['create']>[2]): Room<any, T> {
    const room = super.createRoom<T>(roomName, rootSchema as never);
    room.onMessage('*', () => undefined);
    return room;
  }
}

/**
 * An SDK client of `url` (with a session token if given) that records, in `hosts`, the host of
 * every room WebSocket it opens.
 */
export function sdkClient(url: string, token: string | undefined, hosts?: string[]): Client {
  const c = new BenchClient(url, {
    urlBuilder: (u: URL) => {
      // HTTP requests come through here too; only room WebSockets say where a room lives.
      if (u.protocol === 'ws:' || u.protocol === 'wss:') hosts?.push(u.host);
      return u.toString();
    },
  });
  if (token) c.auth.token = token;
  return c;
}

/** One target at one client count: connect, warm up, measure, drain, disconnect. */
export async function relayRun(
  opts: RelayRunOptions,
  target: string,
  roomName: string,
  servers: RelayServer[],
  n: number,
  tokens: string[] | undefined,
): Promise<{ summary: RelayRun; sample: unknown }> {
  const { log, groupSize } = opts;
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

  log(`${opts.scenario} / ${target} / ${n} clients: connecting`);
  const t0 = performance.now();
  const groups = Array.from({ length: Math.ceil(n / groupSize) }, (_, g) => g);
  const creatorHosts: string[] = [];
  const rooms = (
    await pool(groups, 16, async (g) => {
      const first = g * groupSize;
      const last = Math.min(n, first + groupSize);
      const url = servers[g % servers.length]!.url;
      const creator = wire(await sdkClient(url, tokens?.[first], creatorHosts).create(roomName, {}));
      const others = await Promise.all(
        Array.from({ length: last - first - 1 }, async (_, k) =>
          wire(await sdkClient(url, tokens?.[first + 1 + k]).joinById(creator.roomId)),
        ),
      );
      return [creator, ...others];
    })
  ).flat();
  const connectSec = (performance.now() - t0) / 1000;
  const roomsByHost: Record<string, number> = {};
  for (const h of creatorHosts) roomsByHost[h] = (roomsByHost[h] ?? 0) + 1;
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

  const serverCpu = () => servers.reduce((sum, s) => sum + (cpuSeconds(s.pid) ?? 0), 0);
  log(`${opts.scenario} / ${target} / ${n} clients: warm-up ${opts.warmupSec} s (connected in ${connectSec.toFixed(1)} s)`);
  await sleep(opts.warmupSec * 1000);
  const serverBefore = serverCpu();
  const genBefore = process.cpuUsage();
  const machineBefore = machineBusySeconds();
  log(`${opts.scenario} / ${target} / ${n} clients: measuring ${opts.durationSec} s`);
  windowStart = performance.now();
  windowEnd = windowStart + opts.durationSec * 1000;
  await sleep(opts.durationSec * 1000);
  const wall = (performance.now() - windowStart) / 1000;
  const serverUsed = serverCpu() - serverBefore;
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
    server: (serverUsed / wall) * 100,
    loadGenerator: ((gen.user + gen.system) / 1e6 / wall) * 100,
  };
  if (machineBefore !== undefined && machineAfter !== undefined) {
    cpuPct.machine = ((machineAfter - machineBefore) / wall) * 100;
    cpuPct.otherProcesses = Math.max(0, cpuPct.machine - cpuPct.server - cpuPct.loadGenerator);
  }
  const { p50, p90, p99, max, avg } = percentiles(histogram);
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
    latencyMs: { p50, p90, p99, max, avg },
    errors,
    droppedClients: dropped,
    cpuPct,
    serverCpuUsPerDelivery: delivered > 0 ? (serverUsed * 1e6) / delivered : 0,
    connectSec,
    roomsByHost,
  };
  if (errorSamples.length > 0) log(`${opts.scenario} / ${target} / ${n}: errors, e.g. ${errorSamples.join(' | ')}`);
  return { summary, sample };
}

/** Problems of a run that void its numbers: lost messages, errors, dropped clients, a saturated sender. */
/** Below this share of the offered send rate, a run's load generator fell behind: its numbers are void. */
export const SENT_FLOOR = 0.95;

export function relayProblems(label: string, r: RelayRun, rate: number): string[] {
  const out: string[] = [];
  const lost = r.expected - r.delivered;
  if (lost !== 0 || r.errors > 0 || r.droppedClients > 0)
    out.push(`${label}: ${lost} messages lost of ${r.expected}, ${r.errors} errors, ${r.droppedClients} clients dropped`);
  const offered = r.clients * rate;
  if (r.sentPerSec < offered * SENT_FLOOR)
    out.push(`${label}: sent ${fmt(r.sentPerSec)}/s, below the offered ${fmt(offered)}/s (load generator saturated?)`);
  return out;
}
