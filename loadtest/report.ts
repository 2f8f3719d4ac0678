/** Summaries of autocannon runs, the Markdown tables `npm run bench` prints, and its JSON file. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type autocannon from 'autocannon';
import { root } from './support.js';

/** One measured run: a scenario against one target. */
export interface RunSummary {
  scenario: string;
  target: string;
  seconds: number;
  ok: number;
  reqPerSec: number;
  latencyMs: { avg: number; p50: number; p90: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  /** CPU used during the run, in % of one core (can exceed 100 with several threads or processes). */
  cpuPct: { server: number; postgres?: number; loadGenerator: number; machine?: number; otherProcesses?: number };
  /** CPU time per successful request, in µs: robust to a busy machine, unlike req/s. */
  cpuUsPerRequest: { server: number; postgres?: number };
  /** Rows added to `users` during the run (NEW should match `ok`, EXISTING should be 0). */
  usersCreated?: number;
}

/** µs of CPU per 2xx answer from a CPU % over the run. */
function perRequest(pct: number, r: autocannon.Result): number {
  return r['2xx'] > 0 ? ((pct / 100) * r.duration * 1e6) / r['2xx'] : 0;
}

export function summarize(
  scenario: string,
  target: string,
  r: autocannon.Result,
  cpuPct: RunSummary['cpuPct'],
  usersCreated?: number,
): RunSummary {
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = stat?.count ?? 0;
  const l = r.latency as autocannon.Histogram & { p90: number };
  return {
    scenario,
    target,
    seconds: r.duration,
    ok: r['2xx'],
    reqPerSec: r['2xx'] / r.duration,
    latencyMs: { avg: l.average, p50: l.p50, p90: l.p90, p99: l.p99, max: l.max },
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    statusCodes,
    cpuPct,
    cpuUsPerRequest: {
      server: perRequest(cpuPct.server, r),
      ...(cpuPct.postgres === undefined ? {} : { postgres: perRequest(cpuPct.postgres, r) }),
    },
    ...(usersCreated === undefined ? {} : { usersCreated }),
  };
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const pct = (n: number | undefined) => (n === undefined ? 'n/a' : `${fmt(n)} %`);

/** The comparison table, the detail table and the machine, as Markdown. */
export function markdown(
  runs: RunSummary[],
  machine: { cpu: string; cores: number; node: string; os: string },
  settings: Record<string, unknown>,
  layout: string,
  title = 'Device authentication',
): string {
  const out: string[] = [];
  out.push(`${title}, ${settings.connections} connections, ${settings.durationSec} s per run (after ${settings.warmupSec} s warm-up)`);
  out.push('');
  out.push('| scenario | Tavern req/s | baseline req/s | ratio (Tavern/baseline) | Tavern p50/p99 latency | baseline p50/p99 latency |');
  out.push('|---|---:|---:|---:|---:|---:|');
  const scenarios = [...new Set(runs.map((r) => r.scenario))];
  for (const s of scenarios) {
    const t = runs.find((r) => r.scenario === s && r.target === 'tavern');
    const b = runs.find((r) => r.scenario === s && r.target === 'baseline');
    if (!t || !b) continue;
    const lat = (r: RunSummary) => `${fmt(r.latencyMs.p50)} / ${fmt(r.latencyMs.p99)} ms`;
    out.push(`| ${s} | ${fmt(t.reqPerSec)} | ${fmt(b.reqPerSec)} | ${fmt(t.reqPerSec / b.reqPerSec, 2)} | ${lat(t)} | ${lat(b)} |`);
  }
  out.push('');
  out.push(
    '| scenario | target | 2xx | errors | timeouts | non-2xx | users created | server CPU | PostgreSQL CPU | load generator CPU | other processes CPU | server CPU µs/req | PostgreSQL CPU µs/req |',
  );
  out.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of runs) {
    out.push(
      `| ${r.scenario} | ${r.target} | ${fmt(r.ok)} | ${r.errors} | ${r.timeouts} | ${r.non2xx} | ${r.usersCreated === undefined ? 'n/a' : fmt(r.usersCreated)} | ${pct(r.cpuPct.server)} | ${pct(r.cpuPct.postgres)} | ${pct(r.cpuPct.loadGenerator)} | ${pct(r.cpuPct.otherProcesses)} | ${fmt(r.cpuUsPerRequest.server)} | ${r.cpuUsPerRequest.postgres === undefined ? 'n/a' : fmt(r.cpuUsPerRequest.postgres)} |`,
    );
  }
  out.push('');
  out.push(`Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.os}`);
  out.push(`Layout: ${layout}`);
  out.push(
    `CPU columns: % of one core during the measured run, out of ${machine.cores * 100} % (from /proc; PostgreSQL = every process of the cluster; other = the rest of the machine, including the idle server).`,
  );
  return out.join('\n');
}

/** Problems that make the numbers meaningless: failed requests, or NEW/EXISTING not doing what they say. */
export function problems(runs: RunSummary[]): string[] {
  const out: string[] = [];
  for (const r of runs) {
    const bad = r.errors + r.timeouts + r.non2xx;
    if (bad > 0)
      out.push(
        `${r.scenario}/${r.target}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx (status codes ${JSON.stringify(r.statusCodes)})`,
      );
    if (r.usersCreated !== undefined) {
      const expected = r.scenario === 'new' ? r.ok : 0;
      // A few requests can straddle the start and the end of a run; anything more is a real mismatch.
      if (Math.abs(r.usersCreated - expected) > 64)
        out.push(`${r.scenario}/${r.target}: ${r.usersCreated} users created, expected ~${expected}`);
    }
  }
  return out;
}

/** Runs during which other processes took a noticeable share of the machine (numbers too low). */
export function noise(runs: RunSummary[], thresholdPct = 15): string[] {
  return runs
    .filter((r) => (r.cpuPct.otherProcesses ?? 0) > thresholdPct)
    .map((r) => `${r.scenario}/${r.target}: other processes used ${fmt(r.cpuPct.otherProcesses ?? 0)} % of a core during the run`);
}

/** Writes `loadtest/results/<name>-<timestamp>.json` and returns its path. */
export function writeResults(name: string, data: unknown): string {
  const dir = path.join(root, 'loadtest', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date()
    .toISOString()
    .replace(/[:.]/g, '-')
    .replace(/-\d{3}Z$/, 'Z');
  const file = path.join(dir, `${name}-${stamp}.json`);
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  return file;
}

/**
 * A warning (or '') when other processes took a noticeable share of the machine during some runs:
 * `runs` maps a run's label to the CPU of everything the scenario does not account for, in % of a core.
 */
export function busyWarning(runs: [label: string, otherPct: number | undefined][], thresholdPct = 15): string {
  const busy = runs.filter(([, pct]) => (pct ?? 0) > thresholdPct);
  if (busy.length === 0) return '';
  return (
    '\n\nWARNING: the machine was not quiet (other processes were busy), these numbers understate Tavern:\n' +
    busy.map(([label, pct]) => `  - ${label}: other processes used ${Math.round(pct ?? 0)} % of a core`).join('\n')
  );
}

/**
 * Everything a bench run prints on stdout, kept to be written as one Markdown report of the run
 * (`loadtest/results/bench-<time>.md`) beside the scenarios' JSON files.
 */
export function captureStdout(): { text(): string; stop(): void } {
  const chunks: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  return {
    text: () => chunks.join(''),
    stop: () => void (process.stdout.write = original),
  };
}

/** Writes the Markdown report of a whole bench run; returns its path. */
export function writeRunReport(opts: { machine: string[]; settings: Record<string, string>; body: string; totalSec: number }): string {
  const stamp = new Date()
    .toISOString()
    .replace(/[:.]/g, '-')
    .replace(/-\d{3}Z$/, 'Z');
  const file = path.join(root, 'loadtest', 'results', `bench-${stamp}.md`);
  const settings = Object.entries(opts.settings);
  const text = [
    `# \`npm run bench\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    '## Machine',
    '',
    ...opts.machine.map((m) => `- ${m}`),
    '',
    '## Settings',
    '',
    settings.length > 0 ? settings.map(([k, v]) => `- \`${k}=${v}\``).join('\n') : '- defaults (no BENCH_* variables set)',
    '',
    `## Output (total time ${opts.totalSec.toFixed(0)} s)`,
    '',
    // Paths of this machine's checkout say nothing to a reader: keep them relative to the project.
    opts.body.replaceAll(`${root}/`, '').trim(),
    '',
  ].join('\n');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}
