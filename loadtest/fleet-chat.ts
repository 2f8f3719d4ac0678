/**
 * Fleet chat scenario of `npm run bench`: chat delivery between two Tavern processes on Redis,
 * beside the raw PUBLISH throughput of the same Redis, measured in the same run.
 *
 * Two processes (loadtest/fleet.ts's `startFleetProcess`: one database, one throwaway redis-server,
 * own public addresses, a core each when pinned), loaded with loadtest/modules (the
 * `bench_chat_send` RPC). BENCH_CHAT_CHANNELS (20) room channels, each joined with `create('chat',
 * { type: 1, target, persistence: false })` by BENCH_CHAT_RECEIVERS (5) receivers talking to process
 * B and then one sender talking to process A (device-authenticated `@colyseus/sdk` clients). A
 * channel has one room, placed by Colyseus on either process, and every member's WebSocket goes to
 * that room's process; a member who lands in another room (a split channel) is a problem. Content is
 * `{t, s}`: the send time on this process's clock and a sequence number. Two paths, each measured
 * for BENCH_DURATION after BENCH_WARMUP, closed loop (as fast as the servers answer):
 * - client messages: each sender keeps BENCH_CHAT_WINDOW (8) `channel_message_send` awaiting their
 *   `channel_message_ack`. The message goes sender → room → receivers inside the room's process:
 *   matchmaking crossed processes (A found B's room in the shared registry), the message does not;
 * - server messages: BENCH_CHAT_RPC_CONCURRENCY (32) HTTP calls in flight of `POST
 *   /v2/rpc/bench_chat_send` (http_key), each on the process that does NOT host the channel's room:
 *   `nk.channelMessageSend` there publishes on Redis and the room's process delivers. This is the
 *   cross-process path: one Redis PUBLISH per message.
 * Deliveries count receivers only: delivered/s, latency (receive − send time, p50/p99), and a lost
 * message (expected = messages sent in the window × receivers) is a problem.
 *
 * Raw Redis: `redis-benchmark -q -n 200000 PUBLISH bench x` (50 connections, no pipelining) when
 * installed, and an ioredis loop of pipelined PUBLISH (one connection, 1000 per pipeline). The ratio
 * column divides chat messages per second by each.
 */
import { randomBytes } from 'node:crypto';
import { createHistogram, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Room } from '@colyseus/sdk';
import { Redis } from 'ioredis';
import { startFleetProcess } from './fleet.js';
import { deviceTokens, sdkClient } from './relay-run.js';
import { clientLoop, serverLoop, type Channel, type LoopControl } from './fleet-chat-loops.js';
import { pipelinedPublish, redisBenchmark, redisCpu } from './redis-tools.js';
import { busyWarning, writeResults } from './report.js';
import {
  cpuSeconds,
  fmt,
  machine,
  machineBusySeconds,
  percentiles,
  pool,
  throwawayRedis,
  withTimeout,
  type ChildServer,
} from './support.js';

export interface FleetChatBenchOptions {
  databaseUrl: string;
  channels: number;
  receivers: number;
  window: number;
  rpcConcurrency: number;
  /** Messages each RPC sends. */
  rpcBatch: number;
  warmupSec: number;
  durationSec: number;
  /** One CPU list per process (taskset), if pinned. */
  cpus?: string[] | undefined;
  layout: string;
  log: (msg: string) => void;
}

type Path = 'client' | 'server';

interface ChatRun {
  path: Path;
  seconds: number;
  sent: number;
  messagesPerSec: number;
  delivered: number;
  expected: number;
  deliveredPerSec: number;
  latencyMs: { p50: number; p90: number; p95: number; p99: number; max: number; avg: number };
  errors: number;
  droppedClients: number;
  cpuPct: { processA: number; processB: number; redis: number; loadGenerator: number; machine?: number; otherProcesses?: number };
}

interface RawPublish {
  tool: string;
  publishesPerSec: number;
}

export async function fleetChatBench(opts: FleetChatBenchOptions): Promise<{ table: string; file: string; problems: string[] }> {
  const { log } = opts;
  const problems: string[] = [];
  const runs: ChatRun[] = [];
  const raw: RawPublish[] = [];
  const redisServer = await throwawayRedis();
  const redis = new Redis(redisServer.url);
  const started: ChildServer[] = [];
  const hosts: Record<string, string> = {};
  const rooms: Room[] = [];
  const placement: Record<string, number> = {};
  let split = 0;
  try {
    for (const [p, name] of ['tavern-a', 'tavern-b'].entries()) {
      log(`fleet-chat: starting ${name}`);
      const server = await startFleetProcess({
        name,
        databaseUrl: opts.databaseUrl,
        redisUrl: redisServer.url,
        cpus: opts.cpus?.[p],
      });
      started.push(server);
      hosts[new URL(server.url).host] = name;
    }
    const [a, b] = started as [ChildServer, ChildServer];
    const perChannel = opts.receivers + 1;
    log(`fleet-chat: authenticating ${opts.channels * perChannel} devices`);
    const tokens = await deviceTokens(a.url, opts.channels * perChannel, `bench-chat-${randomBytes(4).toString('hex')}`);
    const tag = randomBytes(4).toString('hex');

    log(
      `fleet-chat: ${opts.channels} channels, ${opts.receivers} receivers through ${hosts[new URL(b.url).host]} and a sender through ${hosts[new URL(a.url).host]} each`,
    );
    const channels = await pool(
      Array.from({ length: opts.channels }, (_, c) => c),
      8,
      async (c): Promise<Channel> => {
        const join = async (url: string, k: number) => {
          const seen: string[] = [];
          const room = await sdkClient(url, tokens[c * perChannel + k], seen).create('chat', {
            type: 1,
            target: `bench-${tag}-${c}`,
            persistence: false,
          });
          rooms.push(room);
          return { room, host: seen[0] ?? '?' };
        };
        const receivers: { room: Room; host: string }[] = [];
        for (let k = 0; k < opts.receivers; k++) receivers.push(await join(b.url, k));
        const sender = await join(a.url, opts.receivers);
        const host = receivers[0]!.host;
        if ([...receivers, sender].some((m) => m.host !== host || m.room.roomId !== receivers[0]!.room.roomId)) split++;
        return { id: `2...bench-${tag}-${c}`, host, sender: sender.room, receivers: receivers.map((r) => r.room) };
      },
    );
    for (const ch of channels) placement[hosts[ch.host] ?? ch.host] = (placement[hosts[ch.host] ?? ch.host] ?? 0) + 1;
    // Every member must see the whole channel: otherwise it was split over two rooms.
    const incomplete = () =>
      rooms.filter((r) => ((r.state as { members?: { size: number } } | undefined)?.members?.size ?? 0) !== perChannel).length;
    const until = performance.now() + 5000;
    while (incomplete() > 0 && performance.now() < until) await sleep(100);
    if (split > 0 || incomplete() > 0)
      problems.push(`fleet-chat: ${split} channels with members in different rooms, ${incomplete()} members not seeing the whole channel`);

    const pids = { a: a.pid, b: b.pid };
    runs.push(await measure('client', channels, opts, pids, redis, async (ctl) => clientLoop(channels, opts.window, ctl)));
    const byHost = (host: string) => (host === new URL(a.url).host ? b.url : a.url);
    runs.push(
      await measure('server', channels, opts, pids, redis, async (ctl) =>
        serverLoop(channels, opts.rpcConcurrency, opts.rpcBatch, byHost, ctl),
      ),
    );

    log('fleet-chat: raw Redis PUBLISH');
    const port = new URL(redisServer.url).port;
    const bench = redisBenchmark(port);
    if (bench !== undefined)
      raw.push({ tool: 'redis-benchmark -q -n 200000 PUBLISH bench x (50 connections, no pipelining)', publishesPerSec: bench });
    raw.push({
      tool: 'ioredis, pipelines of 1000 PUBLISH (1 connection), 200,000 in all',
      publishesPerSec: await pipelinedPublish(redisServer.url),
    });
  } finally {
    await Promise.all(rooms.map((r) => withTimeout(r.leave(true), 5000).catch(() => undefined)));
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    redis.disconnect();
    await redisServer.stop();
  }

  for (const r of runs) {
    const lost = r.expected - r.delivered;
    if (lost !== 0 || r.errors > 0 || r.droppedClients > 0)
      problems.push(
        `fleet-chat/${r.path}: ${lost} deliveries lost of ${r.expected}, ${r.errors} errors, ${r.droppedClients} clients dropped`,
      );
    if (r.sent === 0) problems.push(`fleet-chat/${r.path}: nothing was sent`);
  }
  const info = machine();
  const table = chatMarkdown(runs, raw, opts, info, hosts, placement);
  const file = writeResults('fleet-chat', {
    benchmark: 'Chat delivery between two Tavern processes on Redis, beside raw Redis PUBLISH',
    date: new Date().toISOString(),
    machine: info,
    settings: { ...opts, log: undefined, hosts, roomsPerProcess: placement },
    runs,
    rawRedis: raw,
    problems,
  });
  return { table, file, problems };
}

/** Counts deliveries to receivers, starts `loop`, measures, stops, drains. */
async function measure(
  path: Path,
  channels: Channel[],
  opts: FleetChatBenchOptions,
  pids: { a: number; b: number },
  redis: Redis,
  loop: (ctl: LoopControl) => Promise<void>,
): Promise<ChatRun> {
  const histogram = createHistogram();
  let windowStart = Infinity;
  let windowEnd = Infinity;
  let sent = 0;
  let expected = 0;
  let delivered = 0;
  let errors = 0;
  let dropped = 0;
  let stop = false;
  const errorSamples: string[] = [];
  const offs: (() => void)[] = [];
  for (const ch of channels) {
    for (const room of [...ch.receivers, ch.sender]) {
      const isReceiver = room !== ch.sender;
      offs.push(
        room.onMessage('channel_message', (m: { content: string }) => {
          if (!isReceiver) return;
          const now = performance.now();
          const t = (JSON.parse(m.content) as { t: number }).t;
          if (t >= windowStart && t < windowEnd) {
            delivered++;
            histogram.record(Math.max(1, Math.round((now - t) * 1000)));
          }
        }),
        room.onMessage('error', (m: unknown) => {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(JSON.stringify(m));
        }),
      );
      const onLeave = () => {
        if (!stop) dropped++;
      };
      room.onLeave(onLeave);
      offs.push(() => room.onLeave.remove(onLeave));
    }
  }
  const ctl: LoopControl = {
    sent: (t, receivers) => {
      if (t >= windowStart && t < windowEnd) {
        sent++;
        expected += receivers;
      }
    },
    error: (what) => {
      errors++;
      if (errorSamples.length < 5) errorSamples.push(what);
    },
    stopped: () => stop,
  };
  opts.log(`fleet-chat / ${path} messages: warm-up ${opts.warmupSec} s`);
  const running = loop(ctl);
  await sleep(opts.warmupSec * 1000);
  const before = { a: cpuSeconds(pids.a) ?? 0, b: cpuSeconds(pids.b) ?? 0, redis: await redisCpu(redis), gen: process.cpuUsage() };
  const machineBefore = machineBusySeconds();
  opts.log(`fleet-chat / ${path} messages: measuring ${opts.durationSec} s`);
  windowStart = performance.now();
  windowEnd = windowStart + opts.durationSec * 1000;
  await sleep(opts.durationSec * 1000);
  const wall = (performance.now() - windowStart) / 1000;
  const gen = process.cpuUsage(before.gen);
  const pct = (s: number) => (s / wall) * 100;
  const machineAfter = machineBusySeconds();
  const cpuPct: ChatRun['cpuPct'] = {
    processA: pct((cpuSeconds(pids.a) ?? before.a) - before.a),
    processB: pct((cpuSeconds(pids.b) ?? before.b) - before.b),
    redis: pct((await redisCpu(redis)) - before.redis),
    loadGenerator: pct((gen.user + gen.system) / 1e6),
  };
  if (machineBefore !== undefined && machineAfter !== undefined) {
    cpuPct.machine = pct(machineAfter - machineBefore);
    cpuPct.otherProcesses = Math.max(0, cpuPct.machine - cpuPct.processA - cpuPct.processB - cpuPct.redis - cpuPct.loadGenerator);
  }
  stop = true;
  // A loop waits for its last acks and answers; one that never comes must not hang the bench.
  if ((await Promise.race([running.then(() => true), sleep(10_000).then(() => false)])) === false) ctl.error('send loop did not finish');
  const drainUntil = performance.now() + 5000;
  while (delivered < expected && performance.now() < drainUntil) await sleep(50);
  await sleep(200);
  for (const off of offs) off();
  if (errorSamples.length > 0) opts.log(`fleet-chat / ${path}: errors, e.g. ${errorSamples.join(' | ')}`);
  return {
    path,
    seconds: opts.durationSec,
    sent,
    messagesPerSec: sent / opts.durationSec,
    delivered,
    expected,
    deliveredPerSec: delivered / opts.durationSec,
    latencyMs: percentiles(histogram),
    errors,
    droppedClients: dropped,
    cpuPct,
  };
}

function chatMarkdown(
  runs: ChatRun[],
  raw: RawPublish[],
  opts: FleetChatBenchOptions,
  info: ReturnType<typeof machine>,
  hosts: Record<string, string>,
  placement: Record<string, number>,
): string {
  const out: string[] = [];
  out.push(
    `Chat across two Tavern processes on Redis: ${opts.channels} channels × (${opts.receivers} receivers through tavern-b + 1 sender through ` +
      `tavern-a), closed loop, ${opts.durationSec} s per path (after ${opts.warmupSec} s warm-up); channel rooms placed by Colyseus: ` +
      Object.entries(placement)
        .map(([p, n]) => `${p} ${n}`)
        .join(', '),
  );
  out.push('');
  const head = raw.map((r) => `÷ ${r.tool.startsWith('redis-benchmark') ? 'redis-benchmark' : 'pipelined'} PUBLISH/s`);
  out.push(`| path | messages/s | deliveries/s | p50 / p99 latency | lost | ${head.join(' | ')} |`);
  out.push(`|---|---:|---:|---:|---:|${raw.map(() => '---:|').join('')}`);
  const label: Record<Path, string> = {
    client: "client `channel_message_send` (room's process only; matchmaking crossed processes)",
    server: `\`nk.channelMessageSend\` on the other process → Redis PUBLISH → room (RPCs of ${opts.rpcBatch}, ${opts.rpcConcurrency} in flight)`,
  };
  for (const r of runs) {
    out.push(
      `| ${label[r.path]} | ${fmt(r.messagesPerSec)} | ${fmt(r.deliveredPerSec)} | ${fmt(r.latencyMs.p50, 1)} / ${fmt(r.latencyMs.p99, 1)} ms | ` +
        `${fmt(r.expected - r.delivered)} | ${raw.map((x) => fmt(r.messagesPerSec / x.publishesPerSec, 3)).join(' | ')} |`,
    );
  }
  for (const x of raw) out.push(`| raw Redis: ${x.tool} | ${fmt(x.publishesPerSec)} | | | | ${raw.map(() => '').join(' | ')} |`);
  out.push('');
  out.push(
    '| path | sent | delivered | expected | errors | dropped | p90 / max latency | tavern-a CPU | tavern-b CPU | Redis CPU | load generator CPU | other processes CPU |',
  );
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of runs) {
    out.push(
      `| ${r.path} | ${fmt(r.sent)} | ${fmt(r.delivered)} | ${fmt(r.expected)} | ${r.errors} | ${r.droppedClients} | ` +
        `${fmt(r.latencyMs.p90, 1)} / ${fmt(r.latencyMs.max, 1)} ms | ${fmt(r.cpuPct.processA)} % | ${fmt(r.cpuPct.processB)} % | ` +
        `${fmt(r.cpuPct.redis)} % | ${fmt(r.cpuPct.loadGenerator)} % | ${r.cpuPct.otherProcesses === undefined ? 'n/a' : `${fmt(r.cpuPct.otherProcesses)} %`} |`,
    );
  }
  out.push('');
  out.push(`Machine: ${info.cpu}, ${info.cores} cores, Node ${info.node}, ${info.os}`);
  out.push(
    `Layout: ${opts.layout}. THE LOAD GENERATOR SHARES THE MACHINE'S CORES WITH THE SERVERS. Processes: ${Object.entries(hosts)
      .map(([h, n]) => `${n} ${h}`)
      .join(', ')}.`,
  );
  out.push(
    'A messages/s figure counts messages sent in the window (one Redis PUBLISH each on the server path); deliveries count receivers only. ' +
      'Latency: receive − send time on this process\u2019s clock. Raw Redis PUBLISH goes to a channel nobody subscribes to.',
  );
  return out.join('\n') + busyWarning(runs.map((r) => [`${r.path} messages`, r.cpuPct.otherProcesses]));
}
