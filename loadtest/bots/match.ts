/**
 * Match bot: relayed matches of BOT_MATCH_SIZE players formed by the matchmaker. Each bot
 * device-authenticates, opens its session room and queues a ticket `{ min_count: N, max_count: N }`
 * whose query only matches this run's bots; on `matchmaker_matched` it sends `match_join` { token },
 * takes the `match_reservation` with `consumeSeatReservation` (the SDK follows the reservation to
 * the process that owns the match), and once all N players are in the match state sends
 * `match_data_send` at BOT_MATCH_RATE per second. `data` is the send time (this process's clock)
 * padded to BOT_MATCH_PAYLOAD bytes, base64.
 *
 * Measured: `time_to_match` (`matchmaker_add` → `matchmaker_matched`; mostly the server's
 * TAVERN_MATCHMAKER_INTERVAL_MS), `time_to_seat` (matched → in the match room) and
 * `delivery_latency` (a relayed match does not echo to its sender: send time → arrival at each
 * other player; one way, same clock). Each send expects N−1 deliveries.
 *
 * The CLI starts bots one after another and each queues at once, so matches form as bots arrive;
 * bots left over (numClients not a multiple of N) wait in the queue and show as `unmatched`.
 *
 *   npm run bot:match -- --endpoint ws://127.0.0.1:7350 --numClients 16
 *
 * Settings: BOT_MATCH_SIZE (4), BOT_MATCH_RATE (10), BOT_MATCH_PAYLOAD (32), BOT_MATCH_TIMEOUT_SEC
 * (120: longest wait for a match), plus common.ts's.
 */
import { performance } from 'node:perf_hooks';
import type { Client, Room } from '@colyseus/sdk';
import {
  envNumber,
  leaveQuietly,
  openSession,
  phase,
  runCli,
  Stopped,
  timestampData,
  timestampOf,
  watch,
  type Bot,
  type BotContext,
  type BotDefinition,
  type Inbox,
  type Watched,
} from './common.js';

export interface MatchSettings {
  size: number;
  ratePerSec: number;
  payloadBytes: number;
  timeoutSec: number;
}

const OP_CODE = 1;

export interface Matched {
  ticket: string;
  token?: string;
  match_id?: string;
}

/** The session room messages of matchmaking. */
export const MATCHMAKING_MESSAGES = ['matchmaker_ticket', 'matchmaker_matched', 'match_reservation', 'error'] as const;

/**
 * `match_join` with a matched session's token (or match id), then `consumeSeatReservation`:
 * resolves with the match room.
 */
export async function joinMatched(client: Client, session: Room, inbox: Inbox, matched: Matched, signal: AbortSignal): Promise<Room> {
  session.send('match_join', matched.token !== undefined ? { token: matched.token } : { match_id: matched.match_id });
  const refused = new AbortController();
  const onAbort = () => refused.abort();
  signal.addEventListener('abort', onAbort);
  try {
    // The answer is a reservation, or an `error` about this match_join (which `watch` counts).
    const r = await Promise.race([
      inbox.take<{ match_id: string; reservation: Parameters<Client['consumeSeatReservation']>[0] }>(
        'match_reservation',
        15_000,
        refused.signal,
      ),
      inbox
        .take<{ message?: string }>('error', 15_000, refused.signal, (e) => (e as { type?: string }).type === 'match_join')
        .then((e) => Promise.reject(new Error(`match_join refused: ${e.message ?? '?'}`))),
    ]);
    return await client.consumeSeatReservation(r.reservation);
  } finally {
    signal.removeEventListener('abort', onAbort);
    refused.abort();
  }
}

export const matchBot: BotDefinition<MatchSettings, object> = {
  name: 'match',
  room: 'match',
  headline: ['sent', 'delivered'],
  settings: (env) => ({
    size: Math.max(2, Math.floor(envNumber(env, 'BOT_MATCH_SIZE', 4, 2))),
    ratePerSec: envNumber(env, 'BOT_MATCH_RATE', 10, 0.001),
    payloadBytes: Math.floor(envNumber(env, 'BOT_MATCH_PAYLOAD', 32, 8)),
    timeoutSec: envNumber(env, 'BOT_MATCH_TIMEOUT_SEC', 120, 1),
  }),
  shared: () => ({}),

  async start(options, ctx: BotContext<MatchSettings, object>): Promise<Bot> {
    const { stats, settings } = ctx;
    const { account, client, session, sw, inbox } = await openSession(options, ctx, MATCHMAKING_MESSAGES);
    const abort = new AbortController();
    const tag = `match${ctx.runId}`;

    const t0 = performance.now();
    session.send('matchmaker_add', {
      min_count: settings.size,
      max_count: settings.size,
      query: `+properties.bots:${tag}`,
      string_properties: { bots: tag },
    });
    const { ticket } = await inbox.take<{ ticket: string }>('matchmaker_ticket', 15_000, abort.signal);
    stats.count('tickets');

    let room: Room | undefined;
    let mw: Watched | undefined;
    const timers: NodeJS.Timeout[] = [];
    let matched = false;

    const play = async () => {
      const m = await inbox.take<Matched>('matchmaker_matched', settings.timeoutSec * 1000, abort.signal, (x) => x.ticket === ticket);
      matched = true;
      const tMatched = performance.now();
      stats.latency('time_to_match', tMatched - t0);
      stats.count('matched');
      client.auth.token = await account.token();
      room = await joinMatched(client, session, inbox, m, abort.signal);
      stats.latency('time_to_seat', performance.now() - tMatched);
      stats.count('seated');
      if (abort.signal.aborted) return;
      mw = watch(room, 'match', ctx);
      const r = room;
      r.onMessage('match_data', (d: { data?: string }) => {
        const t = timestampOf(d.data ?? '');
        if (!Number.isFinite(t)) return;
        stats.count('delivered');
        stats.latency('delivery_latency', performance.now() - t);
        stats.arrive('match_data', t);
      });

      // Everyone is in once the state lists N presences; sends before that would reach fewer.
      const present = () => (r.state as { presences?: { size: number } } | undefined)?.presences?.size ?? 0;
      const period = 1000 / settings.ratePerSec;
      const send = () => {
        if (present() < settings.size) {
          stats.count('sends_waiting_for_players');
          return;
        }
        const t = performance.now();
        r.send('match_data_send', { op_code: OP_CODE, data: timestampData(t, settings.payloadBytes) });
        stats.count('sent');
        stats.expect('match_data', t, settings.size - 1);
      };
      timers.push(
        setTimeout(() => {
          send();
          timers.push(setInterval(send, period));
        }, phase(period)),
      );
    };
    play().catch((err: unknown) => {
      if (err instanceof Stopped || ctx.stopping) return;
      stats.error(matched ? 'match_join' : 'matchmaking', err);
    });

    return {
      stop: () => {
        abort.abort();
        timers.forEach((t) => clearTimeout(t));
        if (!matched) stats.count('unmatched');
      },
      leave: async () => {
        await leaveQuietly(room, mw);
        await leaveQuietly(session, sw);
      },
    };
  },
};

if (import.meta.main) runCli(matchBot);
