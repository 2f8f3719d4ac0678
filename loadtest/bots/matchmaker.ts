/**
 * Matchmaker bot: matchmaking churn. Each bot device-authenticates, opens its session room, then
 * loops: `matchmaker_add` { min_count 2, max_count BOT_MM_SIZE } (a query that only matches this
 * run's bots) → `matchmaker_matched`; with BOT_MM_JOIN it joins the relayed match by token
 * (`match_join` → `match_reservation` → `consumeSeatReservation`), stays BOT_MM_HOLD_MS, leaves;
 * waits up to BOT_MM_PAUSE_MS (random) and queues again.
 *
 * Measured: `time_to_match` (add → matched: mostly the server's TAVERN_MATCHMAKER_INTERVAL_MS,
 * 15 s by default, plus waiting for a partner), `ticket_rtt` (add → `matchmaker_ticket`) and
 * `time_to_seat` (matched → in the match room). A ticket unmatched after BOT_MM_TIMEOUT_SEC is
 * removed and counted as `timeouts` (not an error: a partner may have been missing).
 *
 *   npm run bot:matchmaker -- --endpoint ws://127.0.0.1:7350 --numClients 10
 *
 * Settings: BOT_MM_SIZE (2), BOT_MM_JOIN (true), BOT_MM_HOLD_MS (1000), BOT_MM_PAUSE_MS (1000),
 * BOT_MM_TIMEOUT_SEC (120), plus common.ts's.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Room } from '@colyseus/sdk';
import { joinMatched, MATCHMAKING_MESSAGES, type Matched } from './match.js';
import { envBool, envNumber, leaveQuietly, openSession, runCli, Stopped, watch, type Bot, type BotDefinition } from './common.js';

export interface MatchmakerSettings {
  maxCount: number;
  join: boolean;
  holdMs: number;
  pauseMs: number;
  timeoutSec: number;
}

export const matchmakerBot: BotDefinition<MatchmakerSettings, object> = {
  name: 'matchmaker',
  room: 'session',
  headline: ['tickets', 'matched', 'seated'],
  settings: (env) => ({
    maxCount: Math.max(2, Math.floor(envNumber(env, 'BOT_MM_SIZE', 2, 2))),
    join: envBool(env, 'BOT_MM_JOIN', true),
    holdMs: envNumber(env, 'BOT_MM_HOLD_MS', 1000),
    pauseMs: envNumber(env, 'BOT_MM_PAUSE_MS', 1000),
    timeoutSec: envNumber(env, 'BOT_MM_TIMEOUT_SEC', 120, 1),
  }),
  shared: () => ({}),

  async start(options, ctx): Promise<Bot> {
    const { stats, settings } = ctx;
    const { account, client, session, sw, inbox } = await openSession(options, ctx, MATCHMAKING_MESSAGES);
    const abort = new AbortController();
    const signal = abort.signal;
    const tag = `mm${ctx.runId}`;
    let match: Room | undefined;

    const cycle = async () => {
      const t0 = performance.now();
      session.send('matchmaker_add', {
        min_count: 2,
        max_count: settings.maxCount,
        query: `+properties.bots:${tag}`,
        string_properties: { bots: tag },
      });
      const { ticket } = await inbox.take<{ ticket: string }>('matchmaker_ticket', 15_000, signal);
      stats.latency('ticket_rtt', performance.now() - t0);
      stats.count('tickets');
      let m: Matched;
      try {
        m = await inbox.take<Matched>('matchmaker_matched', settings.timeoutSec * 1000, signal, (x) => x.ticket === ticket);
      } catch (err) {
        if (err instanceof Stopped) throw err;
        stats.count('timeouts');
        session.send('matchmaker_remove', { ticket });
        return;
      }
      const tMatched = performance.now();
      stats.latency('time_to_match', tMatched - t0);
      stats.count('matched');
      if (!settings.join) return;
      client.auth.token = await account.token();
      match = await joinMatched(client, session, inbox, m, signal);
      const mw = watch(match, 'match', ctx);
      stats.latency('time_to_seat', performance.now() - tMatched);
      stats.count('seated');
      await sleep(settings.holdMs, undefined, { signal }).catch(() => undefined);
      await leaveQuietly(match, mw);
      match = undefined;
    };

    const loop = async () => {
      while (!signal.aborted) {
        try {
          await cycle();
        } catch (err) {
          if (err instanceof Stopped || signal.aborted) return;
          stats.error('cycle', err);
          await leaveQuietly(match);
          match = undefined;
        }
        await sleep(Math.random() * settings.pauseMs, undefined, { signal }).catch(() => undefined);
      }
    };
    void loop();

    return {
      stop: () => abort.abort(),
      leave: async () => {
        await leaveQuietly(match);
        await leaveQuietly(session, sw);
      },
    };
  },
};

if (import.meta.main) runCli(matchmakerBot);
