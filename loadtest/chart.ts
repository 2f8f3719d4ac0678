/**
 * Latency chart of the benchmarks, as a hand-written SVG (no dependency): one chart, x = clients,
 * y = latency in ms on a log scale (relay latencies span 1 ms to seconds), one colour per scenario,
 * p50 solid with round markers, p99 dashed with square markers, and a legend.
 *
 * `npm run bench` writes it at the end of a run with relay or fleet results. CLI:
 * `npx tsx loadtest/chart.ts [results.json …]` reads relay (`loadtest/results/relay-*.json`) and
 * fleet (`fleet-*.json`) results — by default the newest of each — and writes
 * `loadtest/results/latency.svg`.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface LatencySeries {
  scenario: string;
  points: { clients: number; p50: number; p99: number }[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (n: number) => (Math.round(n * 10) / 10).toString();

/** Round tick values covering [0, max]: 1, 2 or 5 × 10^k apart, about `count` of them. */
function linearTicks(max: number, count = 6): number[] {
  if (max <= 0) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = 0; v < max + step - 1e-9; v += step) ticks.push(v);
  return ticks;
}

/** 1-2-5 ticks of a log axis covering [min, max]. */
function logTicks(min: number, max: number): { lo: number; hi: number; ticks: number[] } {
  const lo = 10 ** Math.floor(Math.log10(min));
  const hi = 10 ** Math.ceil(Math.log10(max));
  const ticks: number[] = [];
  for (let d = lo; d <= hi * 1.0001; d *= 10) for (const m of [1, 2, 5]) if (d * m <= hi * 1.0001) ticks.push(d * m);
  return { lo, hi, ticks };
}

const label = (v: number) =>
  v >= 1000 ? `${v % 1000 === 0 ? v / 1000 : (v / 1000).toFixed(1)}k` : v >= 1 ? String(v) : String(Number(v.toPrecision(2)));

/** Writes the chart of `series` to `file` (an SVG, 800 px wide) and returns the SVG text. */
export function latencyChart(series: LatencySeries[], file: string, title = 'Latency by number of clients'): string {
  const all = series.flatMap((s) => s.points);
  const width = 800;
  const m = { left: 70, right: 24, top: 48, bottom: 56 };
  const plotH = 420;
  const legendRows = Math.ceil(series.length / 2) + 1;
  const legendTop = m.top + plotH + m.bottom;
  const height = legendTop + legendRows * 22 + 16;
  const plotW = width - m.left - m.right;

  const positive = all.flatMap((p) => [p.p50, p.p99]).filter((v) => v > 0);
  const { lo, hi, ticks: yTicks } = logTicks(positive.length ? Math.min(...positive) : 1, positive.length ? Math.max(...positive) : 10);
  const xTicks = linearTicks(Math.max(1, ...all.map((p) => p.clients)) * 1.08);
  const xMax = xTicks[xTicks.length - 1]!;
  const x = (c: number) => m.left + (c / xMax) * plotW;
  const y = (ms: number) => m.top + plotH - ((Math.log10(Math.max(ms, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${width / 2}" y="26" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`);
  // Grid, ticks and tick labels.
  for (const v of yTicks) {
    const yy = num(y(v));
    const major = Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9;
    out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${yy}" y2="${yy}" stroke="${major ? '#ccc' : '#eee'}"/>`);
    out.push(`<line x1="${m.left - 5}" x2="${m.left}" y1="${yy}" y2="${yy}" stroke="#333"/>`);
    out.push(`<text x="${m.left - 8}" y="${yy}" text-anchor="end" dominant-baseline="middle">${label(v)}</text>`);
  }
  for (const v of xTicks) {
    const xx = num(x(v));
    out.push(`<line x1="${xx}" x2="${xx}" y1="${m.top}" y2="${m.top + plotH}" stroke="#eee"/>`);
    out.push(`<line x1="${xx}" x2="${xx}" y1="${m.top + plotH}" y2="${m.top + plotH + 5}" stroke="#333"/>`);
    out.push(`<text x="${xx}" y="${m.top + plotH + 18}" text-anchor="middle">${label(v)}</text>`);
  }
  // Axes and their labels.
  out.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${m.left + plotW / 2}" y="${m.top + plotH + 40}" text-anchor="middle" font-size="13">clients</text>`);
  out.push(
    `<text transform="translate(18 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="13">latency (ms, log scale)</text>`,
  );
  // Lines and markers.
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = [...s.points].sort((a, b) => a.clients - b.clients);
    for (const [key, dash] of [
      ['p50', ''],
      ['p99', ' stroke-dasharray="7 5"'],
    ] as const) {
      const coords = pts.map((p) => `${num(x(p.clients))},${num(y(p[key]))}`);
      if (coords.length > 1) out.push(`<polyline points="${coords.join(' ')}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
      for (const p of pts) {
        const cx = x(p.clients);
        const cy = y(p[key]);
        const tip = `<title>${esc(s.scenario)} ${key} at ${p.clients} clients: ${p[key].toFixed(1)} ms</title>`;
        out.push(
          key === 'p50'
            ? `<circle cx="${num(cx)}" cy="${num(cy)}" r="4" fill="${color}">${tip}</circle>`
            : `<rect x="${num(cx - 4)}" y="${num(cy - 4)}" width="8" height="8" fill="#fff" stroke="${color}" stroke-width="2">${tip}</rect>`,
        );
      }
    }
  });
  // Legend: the styles, then one entry per scenario, two columns.
  out.push(`<line x1="${m.left}" x2="${m.left + 30}" y1="${legendTop}" y2="${legendTop}" stroke="#333" stroke-width="2"/>`);
  out.push(`<circle cx="${m.left + 15}" cy="${legendTop}" r="4" fill="#333"/>`);
  out.push(`<text x="${m.left + 38}" y="${legendTop}" dominant-baseline="middle">p50</text>`);
  out.push(
    `<line x1="${m.left + 100}" x2="${m.left + 130}" y1="${legendTop}" y2="${legendTop}" stroke="#333" stroke-width="2" stroke-dasharray="7 5"/>`,
  );
  out.push(`<rect x="${m.left + 111}" y="${legendTop - 4}" width="8" height="8" fill="#fff" stroke="#333" stroke-width="2"/>`);
  out.push(`<text x="${m.left + 138}" y="${legendTop}" dominant-baseline="middle">p99</text>`);
  series.forEach((s, i) => {
    const lx = m.left + (i % 2) * (plotW / 2);
    const ly = legendTop + 22 * (1 + Math.floor(i / 2));
    const color = COLORS[i % COLORS.length]!;
    out.push(`<rect x="${lx}" y="${ly - 6}" width="30" height="12" fill="${color}"/>`);
    out.push(`<text x="${lx + 38}" y="${ly}" dominant-baseline="middle">${esc(s.scenario)}</text>`);
  });
  out.push('</svg>');
  const svg = out.join('\n') + '\n';
  writeFileSync(file, svg);
  return svg;
}

interface RunLike {
  target?: string;
  clients?: number;
  deliveredPerSec?: number;
  latencyMs?: { p50?: number; p99?: number };
}

/**
 * Series of a relay or fleet results file: one per target (`relay tavern`, `fleet 2 processes` …),
 * one point per client count; of several runs at one count (fleet's rounds) the one that delivered most.
 */
export function seriesOf(file: string, suffix = ''): LatencySeries[] {
  const data = JSON.parse(readFileSync(file, 'utf8')) as { runs?: RunLike[] };
  const kind = path.basename(file).replace(/-\d{4}-\d{2}-\d{2}T.*$/, '');
  const best = new Map<string, Map<number, RunLike>>();
  for (const r of data.runs ?? []) {
    if (typeof r.clients !== 'number' || typeof r.latencyMs?.p50 !== 'number' || typeof r.latencyMs.p99 !== 'number') continue;
    const name = `${kind} ${r.target ?? ''}`.trim() + suffix;
    const byClients = best.get(name) ?? new Map<number, RunLike>();
    best.set(name, byClients);
    const prev = byClients.get(r.clients);
    if (!prev || (r.deliveredPerSec ?? 0) > (prev.deliveredPerSec ?? 0)) byClients.set(r.clients, r);
  }
  return [...best].map(([scenario, byClients]) => ({
    scenario,
    points: [...byClients.values()].map((r) => ({ clients: r.clients!, p50: r.latencyMs!.p50!, p99: r.latencyMs!.p99! })),
  }));
}

function main(): void {
  const dir = path.resolve(import.meta.dirname, 'results');
  let files = process.argv.slice(2);
  if (files.length === 0) {
    const newest = (prefix: string) =>
      readdirSync(dir)
        .filter((f) => new RegExp(`^${prefix}-\\d{4}-.*\\.json$`).test(f))
        .sort()
        .at(-1);
    files = ['relay', 'fleet'].flatMap((p) => newest(p) ?? []).map((f) => path.join(dir, f));
  }
  if (files.length === 0) throw new Error(`no relay-*.json or fleet-*.json in ${dir}`);
  // Several files of one kind: tell their series apart by date.
  const kinds = files.map((f) => path.basename(f).replace(/-\d{4}-.*$/, ''));
  const series = files.flatMap((f, i) => {
    const dup = kinds.filter((k) => k === kinds[i]).length > 1;
    const stamp = /-(\d{4}-\d{2}-\d{2}T\d{2}-\d{2})/.exec(path.basename(f))?.[1];
    return seriesOf(f, dup && stamp ? ` (${stamp})` : '');
  });
  const out = path.join(dir, 'latency.svg');
  latencyChart(series, out, 'Relayed match data: round-trip latency by number of clients');
  process.stdout.write(`${out}: ${series.map((s) => `${s.scenario} (${s.points.length} points)`).join(', ')}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) main();
