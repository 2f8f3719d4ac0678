/**
 * Bot definitions and runs: what a bot file exports, and `BotRun`, which starts, stops and sums up
 * the bots of one kind in this process; re-exported by common.ts.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { round, Stats } from './metrics.js';
import type { BotResult, SdkProof } from './results.js';

// ---------------------------------------------------------------------------------------------
// Bots and runs

/** What one bot is started with (a subset of `@colyseus/loadtest`'s options). */
export interface BotOptions {
  endpoint: string;
  clientId: number;
  numClients: number;
}

/** What a running bot gives back: `stop()` ends its timers at once, `leave()` closes its rooms. */
export interface Bot {
  stop(): void;
  leave(): Promise<void>;
}

export interface BotContext<S, Shared> {
  name: string;
  /** Random per run: device ids, matchmaker properties. */
  runId: string;
  serverKey: string;
  settings: S;
  /** State shared by the bots of this run (same process). */
  shared: Shared;
  stats: Stats;
  /** True once the run is stopping: closes and missing answers are no longer errors. */
  readonly stopping: boolean;
  log(message: string): void;
}

export interface BotDefinition<S, Shared> {
  name: string;
  /** The room name given to `cli()` (`--room`), which it requires; the bot decides what it joins. */
  room: string;
  /** Its settings from `BOT_*` environment variables. */
  settings(env: NodeJS.ProcessEnv): S;
  shared(settings: S): Shared;
  start(options: BotOptions, ctx: BotContext<S, Shared>): Promise<Bot>;
  /** Counters the summary line shows as rates (all counters are in the JSON). */
  headline: string[];
}

/** The bots of one kind in this process: starts them, stops them, sums up. */
export class BotRun<S, Shared> {
  readonly stats = new Stats();
  readonly runId = randomBytes(4).toString('hex');
  private readonly bots: Bot[] = [];
  private requested = 0;
  private endpoint = '';
  private isStopping = false;
  readonly ctx: BotContext<S, Shared>;

  constructor(
    readonly def: BotDefinition<S, Shared>,
    readonly settings: S,
    serverKey: string,
    log: (message: string) => void = () => undefined,
  ) {
    const run = this; // eslint-disable-line @typescript-eslint/no-this-alias
    this.ctx = {
      name: def.name,
      runId: this.runId,
      serverKey,
      settings,
      shared: def.shared(settings),
      stats: this.stats,
      get stopping() {
        return run.isStopping;
      },
      log,
    };
  }

  get stopping(): boolean {
    return this.isStopping;
  }

  /** Starts one bot; a failure is counted (and thrown, for `cli()` to count it too). */
  async add(options: BotOptions): Promise<void> {
    this.requested = Math.max(this.requested, options.numClients);
    this.endpoint = options.endpoint;
    if (this.isStopping) return;
    try {
      const bot = await this.def.start(options, this.ctx);
      this.bots.push(bot);
      this.stats.count('clients_started');
      if (this.isStopping) bot.stop();
    } catch (err) {
      this.stats.error('start', err);
      this.stats.count('clients_failed');
      throw err;
    }
  }

  /** Stops every bot's timers at once (synchronous: safe in an `exit` listener). */
  halt(): void {
    if (this.isStopping) return;
    this.isStopping = true;
    this.stats.stop();
    for (const b of this.bots) b.stop();
  }

  /** Halts, waits `graceMs` for messages in flight, then leaves every room. */
  async close(graceMs = 1500): Promise<void> {
    this.halt();
    await sleep(graceMs);
    await Promise.allSettled(this.bots.map((b) => b.leave()));
  }

  result(sdk: SdkProof): BotResult {
    const counters = this.stats.counts();
    const seconds = this.stats.seconds;
    const ratesPerSec: Record<string, number> = {};
    for (const [k, v] of Object.entries(counters))
      if (!k.startsWith('errors') && !k.startsWith('clients_') && !k.startsWith('sockets.')) ratesPerSec[k] = round(v / seconds, 2);
    return {
      bot: this.def.name,
      date: new Date().toISOString(),
      endpoint: this.endpoint,
      runId: this.runId,
      clients: { requested: this.requested, started: this.stats.get('clients_started'), failed: this.stats.get('clients_failed') },
      seconds: round(seconds, 1),
      settings: this.settings,
      sdk,
      latencyMs: this.stats.latencies(),
      counters,
      ratesPerSec,
      deliveries: this.stats.deliveries(),
      errors: this.stats.errors,
      errorSamples: this.stats.errorSamples,
    };
  }

  /** Whether the run went wrong: errors, failed clients, lost messages, or the wrong SDK. */
  failed(r: BotResult): boolean {
    return r.errors > 0 || r.clients.failed > 0 || Object.values(r.deliveries).some((d) => d.lost > 0) || !r.sdk.ok;
  }
}
