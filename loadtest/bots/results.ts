/**
 * Results of the load-test bots: the result record, its JSON file and one-line summary, and the
 * proof of which `@colyseus/sdk` the bots run on; re-exported by common.ts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FlowSummary, LatencySummary } from './metrics.js';

export const projectRoot = path.resolve(import.meta.dirname, '..', '..');

export interface BotResult {
  bot: string;
  date: string;
  endpoint: string;
  runId: string;
  clients: { requested: number; started: number; failed: number };
  seconds: number;
  settings: unknown;
  sdk: SdkProof;
  latencyMs: Record<string, LatencySummary>;
  counters: Record<string, number>;
  ratesPerSec: Record<string, number>;
  deliveries: Record<string, FlowSummary>;
  errors: number;
  errorSamples: string[];
}

/** `loadtest/results/bot-<name>-<timestamp>.json` (or in BOT_RESULTS_DIR); returns its path. */
export function writeResult(
  prefix: string,
  data: unknown,
  dir = process.env.BOT_RESULTS_DIR || path.join(projectRoot, 'loadtest', 'results'),
): string {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date()
    .toISOString()
    .replace(/[:.]/g, '-')
    .replace(/-\d{3}Z$/, 'Z');
  let file = path.join(dir, `${prefix}-${stamp}.json`);
  if (existsSync(file)) file = path.join(dir, `${prefix}-${stamp}-${process.pid}.json`);
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  return file;
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);

/** The one-line summary of a bot result. */
export function summaryLine(r: BotResult, headline: string[], file?: string): string {
  const parts: string[] = [];
  parts.push(`bot ${r.bot}: ${r.clients.started}/${r.clients.requested} clients, ${fmt(r.seconds)} s`);
  for (const [name, l] of Object.entries(r.latencyMs)) {
    parts.push(`${name} p50/p95/p99 ${fmt(l.p50)}/${fmt(l.p95)}/${fmt(l.p99)} ms (n=${l.count})`);
  }
  for (const name of headline) parts.push(`${name} ${fmt(r.ratesPerSec[name] ?? 0)}/s`);
  for (const [flow, d] of Object.entries(r.deliveries)) parts.push(`${flow} ${d.delivered}/${d.expected} delivered`);
  const sockets = Object.entries(r.counters).filter(([k]) => k.startsWith('sockets.'));
  if (sockets.length > 0) parts.push(`room sockets ${sockets.map(([k, v]) => `${k.slice('sockets.'.length)}=${v}`).join(' ')}`);
  parts.push(`${r.errors} errors`);
  if (!r.sdk.ok) parts.push(`WRONG SDK ${r.sdk.version}`);
  if (file) parts.push(`-> ${path.relative(process.cwd(), file)}`);
  return parts.join(' | ');
}

// ---------------------------------------------------------------------------------------------
// The SDK the bots (and @colyseus/loadtest) run on

export interface SdkProof {
  /** `@colyseus/sdk`'s version as this file resolves it. */
  version: string;
  /** `@colyseus/sdk`'s version as `@colyseus/loadtest` resolves it. */
  loadtestVersion: string;
  /** Both resolve to the same package directory (one module instance). */
  samePackage: boolean;
  /** `cli()` wrapped `Client.prototype.create` of the very class the bots use (only in CLI runs). */
  loadtestPatchedOurClient?: boolean;
  ok: boolean;
}

/** Where and which `@colyseus/sdk` the bots and `@colyseus/loadtest` load. */
export function sdkProof(loadtestPatchedOurClient?: boolean): SdkProof {
  const require = createRequire(import.meta.url);
  const ours = require.resolve('@colyseus/sdk/package.json');
  const loadtestPkg = require.resolve('@colyseus/loadtest/package.json');
  const theirs = createRequire(loadtestPkg).resolve('@colyseus/sdk/package.json');
  const version = (JSON.parse(readFileSync(ours, 'utf8')) as { version: string }).version;
  const loadtestVersion = (JSON.parse(readFileSync(theirs, 'utf8')) as { version: string }).version;
  const samePackage = path.dirname(ours) === path.dirname(theirs);
  return {
    version,
    loadtestVersion,
    samePackage,
    ...(loadtestPatchedOurClient === undefined ? {} : { loadtestPatchedOurClient }),
    ok: version.startsWith('0.18.') && loadtestVersion.startsWith('0.18.') && samePackage && loadtestPatchedOurClient !== false,
  };
}
