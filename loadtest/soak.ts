/**
 * `npm run soak`: moderate mixed load on one Tavern process for SOAK_SECONDS (300), watching its
 * memory and event-loop lag for growth.
 *
 * It starts what it needs, like `npm run bench`: a throwaway PostgreSQL and Redis
 * (test/support/postgres.ts, redis.ts) and Tavern as a child process with REDIS_URL (the fleet
 * code paths: Redis presence, Tavern's Redis room registry, the matchmaker's Redis store). Then,
 * in this process, the bots of loadtest/bots/ without `@colyseus/loadtest`'s dashboard:
 *
 *   SOAK_SESSION_BOTS (200)  session bots: ping every 1 s, status update every 5 s, 5 follows each
 *   SOAK_CHAT_BOTS (100)     chat bots over SOAK_CHAT_CHANNELS (10) channels, 1 message/s each
 *   SOAK_MATCHES (20)        relayed matches of SOAK_MATCH_SIZE (4) through the matchmaker,
 *                            SOAK_MATCH_RATE (10) messages/s per player
 *   SOAK_MM_BOTS (20)        matchmaker churn: queue, match, join, 1 s in the match, leave, again
 *
 * Tavern runs with TAVERN_MATCHMAKER_INTERVAL_MS = SOAK_MATCHMAKER_INTERVAL_MS (1000), no HTTP rate
 * limit and day-long tokens. Once every bot has started, /metrics is read every SOAK_SAMPLE_SEC (10
 * s; SOAK_SECONDS / 12 in shorter runs): resident memory, V8 heap used, event-loop lag p99 (the
 * server resets its histogram at each read, so each sample covers the interval since the previous
 * one) and CPU.
 *
 * Event-loop lag: the server's `tavern_event_loop_lag_*_seconds` (src/metrics-loop.ts), which leave out
 * the sampling interval that Node's `monitorEventLoopDelay` counts in (prom-client's
 * `nodejs_eventloop_lag_*` show ~20 ms on an idle process). The bots' own lag is measured the same
 * way here: reported − 10 ms resolution.
 *
 * Verdict (printed, and in loadtest/results/soak-<timestamp>.json): samples of the first
 * SOAK_WARMUP_SEC (20 % of the run, 10–60 s) are left out and the rest split in thirds. The last
 * third must not exceed the first third by more than SOAK_TOLERANCE (15 %) plus a small absolute
 * allowance for noise (16 MiB of RSS, 8 MiB of heap, 10 ms of lag), comparing medians for RSS and
 * lag, and for the V8 heap the lowest sample of each third: heap used is a sawtooth between
 * collections, and its floor (what survives a collection) is what grows when something leaks,
 * while a median depends on where the samples fell in the sawtooth. Any bot error,
 * failed bot, lost message (ping, chat ack/echo, match data), match that never formed, room error
 * counted by the server (`tavern_room_errors_total`) or server exit fails the run (exit code 1).
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDatabase, startPostgres, type PgCluster } from '../test/support/postgres.js';
import { startRedis, type TestRedis } from '../test/support/redis.js';
import { freePort } from '../test/support/ports.js';
import { chatBot } from './bots/chat.js';
import { BotRun, envNumber, round, sdkProof, summaryLine, writeResult, type BotDefinition, type BotResult } from './bots/common.js';
import { matchBot } from './bots/match.js';
import { matchmakerBot } from './bots/matchmaker.js';
import { sessionBot } from './bots/session.js';
import { machine, startChildServer, tavernEnv, type ChildServer } from './support.js';

const env = process.env;
const seconds = envNumber(env, 'SOAK_SECONDS', 300, 10);
// Every 10 s, more often in short runs (at least ~12 samples).
const sampleSec = envNumber(env, 'SOAK_SAMPLE_SEC', Math.min(10, Math.max(2, Math.round(seconds / 12))), 1);
const warmupSec = envNumber(env, 'SOAK_WARMUP_SEC', Math.min(60, Math.max(10, Math.round(seconds * 0.2))));
const tolerance = envNumber(env, 'SOAK_TOLERANCE', 0.15);
const counts = {
  session: Math.floor(envNumber(env, 'SOAK_SESSION_BOTS', 200)),
  chat: Math.floor(envNumber(env, 'SOAK_CHAT_BOTS', 100)),
  matches: Math.floor(envNumber(env, 'SOAK_MATCHES', 20)),
  mm: Math.floor(envNumber(env, 'SOAK_MM_BOTS', 20)),
};
const matchSize = Math.max(2, Math.floor(envNumber(env, 'SOAK_MATCH_SIZE', 4, 2)));
const chatChannels = Math.max(1, Math.floor(envNumber(env, 'SOAK_CHAT_CHANNELS', 10, 1)));
const matchRate = envNumber(env, 'SOAK_MATCH_RATE', 10, 0.001);
const mmIntervalMs = Math.floor(envNumber(env, 'SOAK_MATCHMAKER_INTERVAL_MS', 1000, 100));
/** Absolute allowances on top of the relative tolerance: noise, not growth. */
const SLACK = { rssMb: 16, heapUsedMb: 8, lagP99Ms: 10 };
/** How each metric's third is summed up (see the header). */
const STATISTIC: Record<keyof typeof SLACK, 'median' | 'min'> = { rssMb: 'median', heapUsedMb: 'min', lagP99Ms: 'median' };

const log = (msg: string) => process.stdout.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

interface Sample {
  t: number;
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  lagP99Ms: number;
  lagMeanMs: number;
  cpuPct: number;
  handles: number;
  roomErrors: number;
  /** Messages the bots sent and received per second since the previous sample. */
  botMsgsPerSec: number;
  botErrors: number;
  /** This process's own event-loop lag p99 (the bots' side: their latencies include it). */
  botLagP99Ms: number;
}

/** Sum of every series of `name` in Prometheus text (labels ignored), or NaN when absent. */
function metric(text: string, name: string): number {
  let sum = NaN;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) sum = (Number.isNaN(sum) ? 0 : sum) + v;
  }
  return sum;
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Runs `fn` over `items` with at most `limit` at a time, collecting nothing. */
async function each<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

interface Check {
  metric: keyof typeof SLACK;
  statistic: 'median' | 'min';
  first: number;
  last: number;
  limit: number;
  growthPct: number;
  ok: boolean;
}

function judge(samples: Sample[]): { checks: Check[]; judged: number; note: string } {
  const after = samples.filter((s) => s.t >= warmupSec);
  if (after.length < 3)
    return { checks: [], judged: after.length, note: `only ${after.length} samples after the warm-up: too short to judge` };
  const k = Math.max(1, Math.floor(after.length / 3));
  const first = after.slice(0, k);
  const last = after.slice(-k);
  const checks = (Object.keys(SLACK) as (keyof typeof SLACK)[]).map((m): Check => {
    const stat = STATISTIC[m] === 'min' ? (xs: number[]) => Math.min(...xs) : median;
    const a = stat(first.map((s) => s[m]));
    const b = stat(last.map((s) => s[m]));
    const limit = a * (1 + tolerance) + SLACK[m];
    const growthPct = a > 0 ? round(((b - a) / a) * 100, 1) : 0;
    return { metric: m, statistic: STATISTIC[m], first: round(a, 1), last: round(b, 1), limit: round(limit, 1), growthPct, ok: b <= limit };
  });
  return {
    checks,
    judged: after.length,
    note: `${after.length} samples after ${warmupSec} s of warm-up, the first ${k} against the last ${k}`,
  };
}

function table(samples: Sample[]): string {
  const out = [
    '|   t s | RSS MB | heap used MB | heap total MB | lag p99 ms | lag mean ms | CPU % | handles | bot msg/s | bot errors | bots lag p99 ms |',
  ];
  out.push(
    '|------:|-------:|-------------:|--------------:|-----------:|------------:|------:|--------:|----------:|-----------:|----------------:|',
  );
  for (const s of samples) {
    out.push(
      `| ${String(s.t).padStart(5)} | ${s.rssMb.toFixed(1).padStart(6)} | ${s.heapUsedMb.toFixed(1).padStart(12)} | ${s.heapTotalMb.toFixed(1).padStart(13)} | ` +
        `${s.lagP99Ms.toFixed(1).padStart(10)} | ${s.lagMeanMs.toFixed(1).padStart(11)} | ${s.cpuPct.toFixed(0).padStart(5)} | ${String(s.handles).padStart(7)} | ` +
        `${s.botMsgsPerSec.toFixed(0).padStart(9)} | ${String(s.botErrors).padStart(10)} | ${s.botLagP99Ms.toFixed(1).padStart(15)} |`,
    );
  }
  return out.join('\n');
}

/** Messages the bots sent and received so far (every kind). */
function botMessages(runs: BotRun<unknown, unknown>[]): number {
  const names = ['pings', 'pongs', 'status_updates', 'status_events', 'sent', 'acks', 'received', 'delivered', 'tickets', 'matched'];
  return runs.reduce((sum, r) => sum + names.reduce((s, n) => s + r.stats.get(n), 0), 0);
}

async function main(): Promise<number> {
  const cleanups: (() => Promise<void>)[] = [];
  const problems: string[] = [];
  let pg: PgCluster | undefined;
  let redis: TestRedis | undefined;
  let tavern: ChildServer | undefined;
  const samples: Sample[] = [];
  const results: BotResult[] = [];
  try {
    log('starting PostgreSQL and Redis');
    pg = await startPostgres();
    cleanups.push(() => pg!.stop());
    redis = await startRedis();
    cleanups.push(() => redis!.stop());
    const databaseUrl = await createDatabase(pg.url(), 'tavern_soak');
    const port = await freePort();
    log(`starting Tavern on port ${port}`);
    tavern = await startChildServer({
      name: 'Tavern',
      script: 'src/main.ts',
      port,
      env: tavernEnv(port, databaseUrl, {
        REDIS_URL: redis.url,
        TAVERN_MATCHMAKER_INTERVAL_MS: String(mmIntervalMs),
      }),
    });
    cleanups.push(() => tavern!.stop());
    const url = tavern.url;

    const key = 'defaultkey';
    const sessionRun = new BotRun(sessionBot, { pingIntervalSec: 1, statusIntervalSec: 5, follow: 5 }, key);
    const chatRun = new BotRun(chatBot, { channels: chatChannels, ratePerSec: 1, prefix: `soak-${Date.now()}`, persist: true }, key);
    const matchRun = new BotRun(matchBot, { size: matchSize, ratePerSec: matchRate, payloadBytes: 32, timeoutSec: 120 }, key);
    const mmRun = new BotRun(matchmakerBot, { maxCount: 2, join: true, holdMs: 1000, pauseMs: 1000, timeoutSec: 60 }, key);
    const runs = [sessionRun, chatRun, matchRun, mmRun] as BotRun<unknown, unknown>[];
    const plan: [BotRun<unknown, unknown>, number][] = [
      [sessionRun as BotRun<unknown, unknown>, counts.session],
      [chatRun as BotRun<unknown, unknown>, counts.chat],
      [matchRun as BotRun<unknown, unknown>, counts.matches * matchSize],
      [mmRun as BotRun<unknown, unknown>, counts.mm],
    ];

    const t0 = performance.now();
    for (const [run, n] of plan) {
      log(`starting ${n} ${run.def.name} bots`);
      await each(
        Array.from({ length: n }, (_, i) => i),
        16,
        (i) => run.add({ endpoint: url, clientId: i, numClients: n }).catch(() => undefined),
      );
    }
    log(`all bots started in ${((performance.now() - t0) / 1000).toFixed(1)} s; soaking for ${seconds} s, a sample every ${sampleSec} s`);

    // Sampling: the first read resets the server's lag histogram (it covers the whole boot).
    let lastCpu = metric(await scrape(url), 'process_cpu_seconds_total');
    let lastMsgs = botMessages(runs);
    let lastAt = performance.now();
    const start = lastAt;
    const ownLag = monitorEventLoopDelay({ resolution: 10 });
    ownLag.enable();
    while (performance.now() - start < seconds * 1000) {
      await sleep(Math.max(0, start + (samples.length + 1) * sampleSec * 1000 - performance.now()));
      let text: string;
      try {
        text = await scrape(url);
      } catch (err) {
        problems.push(`metrics unreadable at ${Math.round((performance.now() - start) / 1000)} s: ${(err as Error).message}`);
        break;
      }
      const now = performance.now();
      const cpu = metric(text, 'process_cpu_seconds_total');
      const msgs = botMessages(runs);
      const s: Sample = {
        t: Math.round((now - start) / 1000),
        rssMb: metric(text, 'process_resident_memory_bytes') / 2 ** 20,
        heapUsedMb: metric(text, 'nodejs_heap_size_used_bytes') / 2 ** 20,
        heapTotalMb: metric(text, 'nodejs_heap_size_total_bytes') / 2 ** 20,
        lagP99Ms: metric(text, 'tavern_event_loop_lag_p99_seconds') * 1000,
        lagMeanMs: metric(text, 'tavern_event_loop_lag_mean_seconds') * 1000,
        cpuPct: ((cpu - lastCpu) / ((now - lastAt) / 1000)) * 100,
        handles: metric(text, 'nodejs_active_handles_total'),
        roomErrors: Number.isNaN(metric(text, 'tavern_room_errors_total')) ? 0 : metric(text, 'tavern_room_errors_total'),
        botMsgsPerSec: (msgs - lastMsgs) / ((now - lastAt) / 1000),
        botErrors: runs.reduce((n, r) => n + r.stats.errors, 0),
        botLagP99Ms: Math.max(0, ownLag.percentile(99) / 1e6 - 10),
      };
      ownLag.reset();
      lastCpu = cpu;
      lastMsgs = msgs;
      lastAt = now;
      samples.push(s);
      log(
        `t=${s.t}s rss ${s.rssMb.toFixed(1)} MB, heap ${s.heapUsedMb.toFixed(1)} MB, lag p99 ${s.lagP99Ms.toFixed(1)} ms, ` +
          `cpu ${s.cpuPct.toFixed(0)} %, ${s.botMsgsPerSec.toFixed(0)} bot msg/s, ${s.botErrors} bot errors`,
      );
    }

    log('stopping the bots');
    await Promise.all(runs.map((r) => r.close()));
    const proof = sdkProof();
    for (const r of runs) results.push(r.result(proof));
    for (const r of results) {
      const run = runs.find((x) => x.def.name === r.bot)!;
      log(summaryLine(r, (run.def as BotDefinition<unknown, unknown>).headline));
      if (r.errors > 0) problems.push(`${r.bot} bots: ${r.errors} errors (${r.errorSamples.slice(0, 3).join('; ')})`);
      if (r.clients.failed > 0) problems.push(`${r.bot} bots: ${r.clients.failed} of ${r.clients.requested} failed to start`);
      for (const [flow, d] of Object.entries(r.deliveries))
        if (d.lost > 0) problems.push(`${r.bot} bots: ${d.lost} of ${d.expected} ${flow} messages lost`);
    }
    const unmatched = matchRun.stats.get('unmatched');
    if (unmatched > 0) problems.push(`match bots: ${unmatched} players never matched`);
    if (mmRun.stats.get('matched') === 0 && counts.mm > 1) problems.push('matchmaker bots: no match formed');
    const lastRoomErrors = samples.at(-1)?.roomErrors ?? 0;
    if (lastRoomErrors > 0) problems.push(`the server counted ${lastRoomErrors} room errors (tavern_room_errors_total)`);
    if (tavern.pid && !processAlive(tavern.pid)) problems.push(`Tavern exited during the soak:\n${tavern.output()}`);
  } catch (err) {
    problems.push(`soak failed: ${(err as Error).stack ?? String(err)}`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log(`cleanup: ${(err as Error).message}`));
  }

  const verdict = judge(samples);
  const flat = verdict.checks.length > 0 && verdict.checks.every((c) => c.ok);
  if (verdict.checks.length === 0) problems.push(verdict.note);
  for (const c of verdict.checks)
    if (!c.ok) problems.push(`${c.metric} grew: ${c.statistic} ${c.first} → ${c.last} (${c.growthPct} %), limit ${c.limit}`);

  process.stdout.write(`\n${table(samples)}\n\n`);
  process.stdout.write(`Judged on ${verdict.note}; limit = first × ${1 + tolerance} + ${JSON.stringify(SLACK)}\n`);
  for (const c of verdict.checks)
    process.stdout.write(
      `  ${c.ok ? 'flat ' : 'GREW '} ${c.metric.padEnd(10)} ${c.statistic.padEnd(6)} first ${c.first} → last ${c.last} (${c.growthPct >= 0 ? '+' : ''}${c.growthPct} %), limit ${c.limit}\n`,
    );
  const pass = problems.length === 0 && flat;
  const file = writeResult('soak', {
    benchmark: 'Soak: mixed bot load on one Tavern process with Redis',
    date: new Date().toISOString(),
    machine: machine(),
    settings: { seconds, sampleSec, warmupSec, tolerance, slack: SLACK, counts, matchSize, matchRate, chatChannels, mmIntervalMs },
    samples: samples.map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v, 2)]))),
    verdict: { pass, ...verdict },
    problems,
    bots: results,
  });
  process.stdout.write(
    `\nVerdict: ${pass ? 'PASS' : 'FAIL'}${problems.length ? `\n  - ${problems.join('\n  - ')}` : ''}\nResults: ${file}\n`,
  );
  return pass ? 0 : 1;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

process.exit(await main());
