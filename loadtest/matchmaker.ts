/**
 * Matchmaker scenario: one `process()` pass of the matching engine (src/services/matchmaker-pool.ts)
 * over a freshly filled pool of BENCH_MM_SIZES (`10000,100000`) tickets, against a simple
 * sort-and-bucket baseline on the same tickets in the same run. In this process, no network, no
 * database; each measurement is the median of BENCH_MM_REPEATS (3) runs on a freshly built pool (the
 * build is not timed), after a forced garbage collection. Runs alone with `npx tsx loadtest/matchmaker.ts`.
 *
 * Workload (seeded, so every run sees the same tickets):
 * - 4 modes × 5 regions; modes drawn 35 % duel (1v1: min = max = 2), 20 % duo (2v2: 4/4, multiple 2),
 *   30 % squad (4v4, or 2v2 after waiting: min 4 or 6, max 8, multiple 2), 15 % brawl (free-for-all:
 *   min 3 or 4, max 6 or 8); regions drawn 35/25/20/12/8 %;
 * - parties: 30 % of duo tickets and 20 % of squad tickets are parties of 2 (squad: 2–4), never split;
 * - skill ~ normal(1500, 350) clamped to 0–3000; the query asks for the same mode and region and a
 *   skill window of ±100 around the ticket's own, ±250 for tickets that already waited:
 *   `+properties.mode:X +properties.region:Y +properties.skill:>=a +properties.skill:<=b`
 *   (the range clauses are required: without `+` they only rank, as in Nakama; a second table row
 *   measures that form at the largest size);
 * - 30 % of the tickets are at maxIntervals (2) already (older, wider window, and they accept fewer
 *   than their max count); the others need a full match.
 *
 * Baseline: bucket the tickets by mode + region, sort each bucket by skill, walk it and take
 * consecutive tickets until their users reach the first one's max count (a ticket that would
 * overflow starts a new group). It checks nothing else: no queries either way, no min count or
 * count multiple, no waiting rule, no user or party overlap, no age order.
 */
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { parseMatchQuery } from '../src/services/match-query.js';
import { MatchmakerPool, type MatchedGroup, type TicketInput } from '../src/services/matchmaker-pool.js';
import { writeResults } from './report.js';
import { machine } from './support.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const MAX_INTERVALS = 2;

export interface MatchmakerBenchOptions {
  /** Pool sizes to measure. */
  sizes: number[];
  /** Runs per measurement (the median is reported). */
  repeats: number;
  /** Share of tickets at maxIntervals already (default 0.3). */
  expiredShare?: number;
  seed?: number;
  log?: (msg: string) => void;
}

/** One timed pass. */
interface Pass {
  /** Wall-clock ms of the pass. */
  ms: number;
  /** CPU ms of this thread during the pass (robust to a busy machine, unlike wall time). */
  cpuMs: number;
  matches: number;
  players: number;
}

export interface MatchmakerBenchRow {
  label: string;
  tickets: number;
  /** Users in the pool (parties count every member). */
  users: number;
  addUsPerTicket: number;
  engine: Pass & { playersPerSec: number; leftTickets: number };
  baseline: Pass;
}

export interface MatchmakerBenchResult {
  workload: string;
  rows: MatchmakerBenchRow[];
}

function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

const MODES = [
  { mode: 'duel', weight: 0.35, min: [2], max: [2], multiple: 1, party: 0, partyMax: 1 },
  { mode: 'duo', weight: 0.2, min: [4], max: [4], multiple: 2, party: 0.3, partyMax: 2 },
  { mode: 'squad', weight: 0.3, min: [4, 6], max: [8], multiple: 2, party: 0.2, partyMax: 4 },
  { mode: 'brawl', weight: 0.15, min: [3, 4], max: [6, 8], multiple: 1, party: 0, partyMax: 1 },
] as const;
const REGIONS = [
  ['eu', 0.35],
  ['us-east', 0.25],
  ['us-west', 0.2],
  ['asia', 0.12],
  ['sa', 0.08],
] as const;

/** The benchmark's tickets: the waiting ones (older) first. */
export function workload(n: number, opts: { seed?: number; expiredShare?: number; optionalRanges?: boolean } = {}): TicketInput[] {
  const random = rng(opts.seed ?? 42);
  const weighted = <T extends { weight: number }>(xs: readonly T[]): T => {
    let r = random();
    for (const x of xs) if ((r -= x.weight) < 0) return x;
    return xs[xs.length - 1]!;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const expired = Math.round(n * (opts.expiredShare ?? 0.3));
  const range = opts.optionalRanges ? '' : '+';
  const out: TicketInput[] = [];
  for (let i = 0; i < n; i++) {
    const m = weighted(MODES);
    const region = weighted(REGIONS.map(([name, weight]) => ({ name, weight }))).name;
    const skill = Math.round(Math.min(3000, Math.max(0, 1500 + 350 * normal())));
    const waited = i < expired;
    const w = waited ? 250 : 100;
    const size = random() < m.party ? 2 + Math.floor(random() * (m.partyMax - 1)) : 1;
    const users = Array.from({ length: size }, (_, k) => ({ userId: `u${i}-${k}`, sessionId: `s${i}-${k}`, username: `p${i}-${k}` }));
    out.push({
      id: `t${i}`,
      users,
      ...(size > 1 ? { partyId: `party${i}` } : {}),
      stringProperties: { mode: m.mode, region },
      numericProperties: { skill },
      query: `+properties.mode:${m.mode} +properties.region:${region} ${range}properties.skill:>=${skill - w} ${range}properties.skill:<=${skill + w}`,
      minCount: pick(m.min),
      maxCount: pick(m.max),
      countMultiple: m.multiple,
      createdAt: i,
      intervals: waited ? MAX_INTERVALS : 0,
    });
  }
  return out;
}

/** The baseline (see the file's comment): groups of ticket inputs. */
export function baselineMatch(tickets: readonly TicketInput[]): TicketInput[][] {
  const buckets = new Map<string, TicketInput[]>();
  for (const t of tickets) {
    const key = `${t.stringProperties!.mode}|${t.stringProperties!.region}`;
    const b = buckets.get(key);
    if (b) b.push(t);
    else buckets.set(key, [t]);
  }
  const groups: TicketInput[][] = [];
  for (const b of buckets.values()) {
    b.sort((x, y) => x.numericProperties!.skill! - y.numericProperties!.skill!);
    let group: TicketInput[] = [];
    let users = 0;
    for (const t of b) {
      if (group.length > 0 && users + t.users.length > group[0]!.maxCount) {
        group = [];
        users = 0;
      }
      group.push(t);
      users += t.users.length;
      if (users === group[0]!.maxCount) {
        groups.push(group);
        group = [];
        users = 0;
      }
    }
  }
  return groups;
}

function timed<T>(fn: () => T): { value: T; ms: number; cpuMs: number } {
  gc();
  const cpu = process.threadCpuUsage();
  const t = performance.now();
  const value = fn();
  const ms = performance.now() - t;
  const used = process.threadCpuUsage(cpu);
  return { value, ms, cpuMs: (used.user + used.system) / 1000 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Rule violations in one pass's matches (a cheap check of all of them, the slow query check on a sample). */
function violations(groups: readonly MatchedGroup[], label: string): string[] {
  const out: string[] = [];
  const users = new Set<string>();
  groups.forEach((g, i) => {
    for (const t of g.tickets) {
      if (g.size < t.minCount || g.size > t.maxCount || g.size % t.countMultiple !== 0)
        out.push(`${label}: match ${i} has ${g.size} users, ticket ${t.id} wants ${t.minCount}–${t.maxCount} ×${t.countMultiple}`);
      if (t.intervals < MAX_INTERVALS && g.size !== t.maxCount) out.push(`${label}: ticket ${t.id} waited too little for ${g.size} users`);
      for (const u of t.users) {
        if (users.has(u.userId)) out.push(`${label}: user ${u.userId} is in two matches`);
        users.add(u.userId);
      }
    }
    if (i % 100 === 0)
      for (const a of g.tickets)
        for (const b of g.tickets) {
          const label2 = JSON.stringify({ properties: { ...b.stringProperties, ...b.numericProperties } });
          if (a !== b && parseMatchQuery(a.query).score(label2) === null) out.push(`${label}: ${a.id}'s query rejects ${b.id}`);
        }
  });
  return out.slice(0, 10);
}

function measure(label: string, tickets: TicketInput[], repeats: number, problems: string[]): MatchmakerBenchRow {
  const engine: Pass[] = [];
  const baseline: Pass[] = [];
  const addUs: number[] = [];
  let left = 0;
  for (let r = 0; r < repeats; r++) {
    const pool = new MatchmakerPool({ maxIntervals: MAX_INTERVALS });
    const built = timed(() => {
      for (const t of tickets) pool.add(t);
    });
    addUs.push((built.cpuMs * 1000) / tickets.length);
    const pass = timed(() => pool.process());
    const groups = pass.value;
    engine.push({ ms: pass.ms, cpuMs: pass.cpuMs, matches: groups.length, players: groups.reduce((s, g) => s + g.size, 0) });
    left = pool.size;
    if (r === 0) problems.push(...violations(groups, label));
    const base = timed(() => baselineMatch(tickets));
    baseline.push({
      ms: base.ms,
      cpuMs: base.cpuMs,
      matches: base.value.length,
      players: base.value.reduce((s, g) => s + g.reduce((n, t) => n + t.users.length, 0), 0),
    });
  }
  const med = (xs: Pass[]): Pass => ({
    ms: median(xs.map((x) => x.ms)),
    cpuMs: median(xs.map((x) => x.cpuMs)),
    matches: xs[0]!.matches,
    players: xs[0]!.players,
  });
  const e = med(engine);
  return {
    label,
    tickets: tickets.length,
    users: tickets.reduce((s, t) => s + t.users.length, 0),
    addUsPerTicket: median(addUs),
    engine: { ...e, playersPerSec: e.players / (e.ms / 1000), leftTickets: left },
    baseline: med(baseline),
  };
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Measures every size (and the optional-range form at the largest), writes the results file, returns the Markdown table. */
export function matchmakerBench(o: MatchmakerBenchOptions): {
  results: MatchmakerBenchResult;
  table: string;
  file: string;
  problems: string[];
} {
  const log = o.log ?? (() => undefined);
  const problems: string[] = [];
  const rows: MatchmakerBenchRow[] = [];
  for (const size of o.sizes) {
    log(`matchmaker: ${fmt(size)} tickets, ${o.repeats} runs`);
    rows.push(measure('required ranges', workload(size, o), o.repeats, problems));
  }
  const largest = Math.max(...o.sizes);
  log(`matchmaker: ${fmt(largest)} tickets, optional ranges`);
  rows.push(measure('optional ranges', workload(largest, { ...o, optionalRanges: true }), o.repeats, problems));

  const workloadText =
    '4 modes × 5 regions; duel 2/2, duo 4/4 ×2, squad 4–6/8 ×2, brawl 3–4/6–8; parties of 2–4 in duo and squad; ' +
    `skill ~ N(1500, 350), window ±100 (±250 once waited); ${Math.round((o.expiredShare ?? 0.3) * 100)} % of tickets at maxIntervals (${MAX_INTERVALS})`;
  const m = machine();
  const table = [
    `Matchmaker, one process() pass over a full pool (median of ${o.repeats} runs). Workload: ${workloadText}.`,
    'Query `+properties.mode:X +properties.region:Y +properties.skill:>=a +properties.skill:<=b` ("optional ranges": the same without `+` on the ranges, so they only rank).',
    '',
    '| pool (tickets) | query form | engine ms / pass (CPU ms) | matches | players matched | players / s | tickets left | baseline ms | baseline players | ratio (engine / baseline ms) |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${fmt(r.tickets)} | ${r.label} | ${fmt(r.engine.ms)} (${fmt(r.engine.cpuMs)}) | ${fmt(r.engine.matches)} | ${fmt(r.engine.players)} | ${fmt(r.engine.playersPerSec)} | ${fmt(r.engine.leftTickets)} | ${fmt(r.baseline.ms, 1)} | ${fmt(r.baseline.players)} | ${fmt(r.engine.ms / r.baseline.ms, 1)} |`,
    ),
    '',
    `Adding a ticket (validation, query parsing and planning): ${rows.map((r) => `${fmt(r.addUsPerTicket, 1)} µs`).join(', ')} of CPU per ticket (same rows), not included above.`,
    'Baseline: bucket by mode + region, sort by skill, take consecutive tickets up to the first one\'s max count; it checks nothing else (no queries, min counts, multiples, waiting rule, user overlap or age order), so it "matches" players the engine must refuse.',
    `Machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}; wall times grow with machine load, CPU ms (this thread) much less.`,
  ].join('\n');
  const results: MatchmakerBenchResult = { workload: workloadText, rows };
  const file = writeResults('matchmaker', {
    benchmark: 'matchmaker process pass',
    date: new Date().toISOString(),
    machine: m,
    ...results,
    problems,
  });
  return { results, table, file, problems };
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  const env = process.env;
  const sizes = (env.BENCH_MM_SIZES || '10000,100000').split(',').map(Number);
  const repeats = Number(env.BENCH_MM_REPEATS || 3);
  if (sizes.some((n) => !Number.isInteger(n) || n < 2) || !Number.isInteger(repeats) || repeats < 1)
    throw new Error('BENCH_MM_SIZES must list integers ≥ 2 and BENCH_MM_REPEATS must be a positive integer');
  const out = matchmakerBench({ sizes, repeats, log: (msg) => process.stderr.write(`[bench] ${msg}\n`) });
  process.stdout.write(`\n${out.table}\n`);
  if (out.problems.length > 0) {
    process.stdout.write(`\n!!! WARNING: THESE NUMBERS ARE NOT VALID\n${out.problems.map((p) => `!!! ${p}`).join('\n')}\n`);
    process.exitCode = 1;
  }
  process.stdout.write(`\nResults: ${out.file}\n`);
}
