/**
 * Shared code of the load-test bots (loadtest/bots/*.ts): HTTP device authentication, SDK clients,
 * latency histograms and counters, the JSON result file and the one-line summary, and the glue to
 * `@colyseus/loadtest`'s `cli()`.
 *
 * A bot file exports a `BotDefinition` (its settings from `BOT_*` environment variables and a
 * `start(options, ctx)` that connects one bot and returns once it is running). Run as a script
 * (`tsx loadtest/bots/session.ts --endpoint ws://127.0.0.1:7350 --numClients 50`) it hands that to
 * `cli()`, which starts `--numClients` bots one after another (each `start` is awaited) and draws its
 * terminal dashboard; `npm run soak` (loadtest/soak.ts) runs the same definitions in-process
 * through `BotRun` without the dashboard.
 *
 * `@colyseus/loadtest` 0.17 depends on `@colyseus/sdk` ^0.17, which cannot talk to a 0.18 server:
 * package.json `overrides` points it at the project's `@colyseus/sdk` (0.18). `sdkProof()` checks
 * at run time that the bots and the loadtest tool share that one 0.18 SDK.
 *
 * Settings every bot reads:
 *   BOT_SERVER_KEY     server key for Basic auth (default: TAVERN_SERVER_KEY, else `defaultkey`)
 *   BOT_DURATION_SEC   stop after this many seconds (default 0: run until SIGINT / Ctrl-C / q)
 *   BOT_RESULTS_DIR    where result files go (default loadtest/results)
 */
import { writeSync } from 'node:fs';
import { cli, type Options as LoadtestOptions } from '@colyseus/loadtest';
import { Client } from '@colyseus/sdk';
import { envNumber, serverKeyFrom } from './auth.js';
import { BotRun, type BotDefinition } from './run.js';
import { sdkProof, summaryLine, writeResult } from './results.js';

export * from './auth.js';
export * from './clients.js';
export * from './metrics.js';
export * from './results.js';
export * from './run.js';

// ---------------------------------------------------------------------------------------------
// The command line, through @colyseus/loadtest

/**
 * Runs a bot definition under `@colyseus/loadtest`'s `cli()`: `--endpoint`, `--numClients`,
 * `--delay` … as it parses them (`--room` defaults to the definition's). Stops after
 * BOT_DURATION_SEC, or on SIGINT / SIGTERM / Ctrl-C / q; then writes
 * `loadtest/results/bot-<name>-<timestamp>.json` and prints the one-line summary (after the
 * dashboard has given the terminal back). Exits 1 when the run failed (see `BotRun.failed`).
 */
export function runCli<S, Shared>(def: BotDefinition<S, Shared>): void {
  if (!process.argv.slice(2).some((a) => a === '--room' || a.startsWith('--room=') || a === '--roomId' || a.startsWith('--roomId='))) {
    process.argv.push('--room', def.room);
  }
  if (process.argv.includes('--help')) {
    process.stdout.write(
      `${def.name} bot for @colyseus/loadtest; settings through BOT_* environment variables (see loadtest/bots/${def.name}.ts)\n`,
    );
  }
  const settings = def.settings(process.env);
  const durationSec = envNumber(process.env, 'BOT_DURATION_SEC', 0);
  const originalCreate = Client.prototype.create;
  const out = (line: string) => writeSync(1, line + '\n');
  const run = new BotRun(def, settings, serverKeyFrom(process.env), (m) => console.log(m));

  cli(async (options: LoadtestOptions) => {
    await run.add({ endpoint: options.endpoint, clientId: options.clientId, numClients: Number(options.numClients) });
  });
  const sdk = sdkProof(Client.prototype.create !== originalCreate);
  if (!sdk.ok) console.error(`wrong SDK: ${JSON.stringify(sdk)}`);

  let summary: string | undefined;
  let failed = false;
  const finish = () => {
    if (summary !== undefined) return;
    run.halt();
    const r = run.result(sdk);
    failed = run.failed(r);
    const file = writeResult(`bot-${def.name}`, r);
    summary = summaryLine(r, def.headline, file);
  };
  // After blessed's own exit listeners (registered inside cli()) gave the terminal back.
  process.on('exit', (code) => {
    finish();
    out(summary!);
    if (failed && code === 0) process.exitCode = 1;
  });
  if (durationSec > 0) {
    setTimeout(() => {
      void run
        .close()
        .catch(() => undefined)
        .finally(() => {
          finish();
          process.exit(failed ? 1 : 0);
        });
    }, durationSec * 1000);
  }
}

/** A random phase in [0, periodMs): spreads the bots' timers over the period. */
export const phase = (periodMs: number) => Math.floor(Math.random() * periodMs);

/** `performance.now()` as base64 text padded to `bytes` (match data must be base64). */
export function timestampData(t: number, bytes: number): string {
  const s = t.toFixed(3);
  return Buffer.from(s + ' '.repeat(Math.max(0, bytes - s.length)), 'latin1').toString('base64');
}

export const timestampOf = (data: string) => parseFloat(Buffer.from(data, 'base64').toString('latin1'));
