/**
 * Session bot: each bot device-authenticates, opens its session room (`create('session')`),
 * follows a few bots that connected before it (`status_follow`), updates its status every
 * BOT_STATUS_INTERVAL_SEC and pings every BOT_PING_INTERVAL_SEC.
 *
 * Measured: `ping_rtt` (`ping` {t} → `pong` {t}), `follow_rtt` (`status_follow` → `status`) and
 * `status_latency` (a followed bot's `status_update` carrying its send time → the follower's
 * `status_presence_event`; one way, same process, same clock).
 *
 *   npm run bot:session -- --endpoint ws://127.0.0.1:7350 --numClients 50
 *
 * Settings: BOT_PING_INTERVAL_SEC (1), BOT_STATUS_INTERVAL_SEC (5), BOT_FOLLOW (5: bots each one
 * follows), plus common.ts's BOT_SERVER_KEY, BOT_DURATION_SEC, BOT_RESULTS_DIR.
 */
import { performance } from 'node:perf_hooks';
import type { Room } from '@colyseus/sdk';
import {
  Account,
  deviceId,
  envNumber,
  leaveQuietly,
  nextMessage,
  phase,
  runCli,
  sdkClient,
  watch,
  type Bot,
  type BotDefinition,
} from './common.js';

export interface SessionSettings {
  pingIntervalSec: number;
  statusIntervalSec: number;
  follow: number;
}

interface SessionShared {
  /** User ids of the bots started so far, for the next ones to follow. */
  userIds: string[];
}

interface PresenceEvent {
  joins?: { user_id: string; status?: string }[];
}

export const sessionBot: BotDefinition<SessionSettings, SessionShared> = {
  name: 'session',
  room: 'session',
  headline: ['pongs', 'status_updates', 'status_events'],
  settings: (env) => ({
    pingIntervalSec: envNumber(env, 'BOT_PING_INTERVAL_SEC', 1, 0.01),
    statusIntervalSec: envNumber(env, 'BOT_STATUS_INTERVAL_SEC', 5, 0.01),
    follow: envNumber(env, 'BOT_FOLLOW', 5),
  }),
  shared: () => ({ userIds: [] }),

  async start(options, ctx): Promise<Bot> {
    const { stats, settings } = ctx;
    const account = await Account.device(options.endpoint, ctx.serverKey, deviceId(ctx.name, ctx.runId, options.clientId));
    const room: Room = await sdkClient(options.endpoint, await account.token(), stats).create('session');
    const w = watch(room, 'session', ctx);

    room.onMessage('pong', (m: { t?: number }) => {
      stats.count('pongs');
      if (typeof m.t !== 'number') return;
      stats.latency('ping_rtt', performance.now() - m.t);
      stats.arrive('pong', m.t);
    });
    room.onMessage('status_presence_event', (e: PresenceEvent) => {
      stats.count('status_events');
      for (const j of e.joins ?? []) {
        const t = Number(/^bot t=([\d.]+)/.exec(j.status ?? '')?.[1]);
        if (Number.isFinite(t)) stats.latency('status_latency', performance.now() - t);
      }
    });

    // Follow the last few bots that started (their status updates come back as presence events).
    const others = ctx.shared.userIds.slice(-settings.follow);
    ctx.shared.userIds.push(account.userId);
    if (others.length > 0) {
      const t0 = performance.now();
      room.send('status_follow', { user_ids: others });
      const status = await nextMessage<{ presences?: unknown[] }>(room, 'status', 10_000);
      stats.latency('follow_rtt', performance.now() - t0);
      stats.count('follows');
      stats.count('followed_online', status.presences?.length ?? 0);
    }

    const timers: NodeJS.Timeout[] = [];
    const every = (sec: number, fn: () => void) => {
      const ms = sec * 1000;
      timers.push(
        setTimeout(() => {
          fn();
          timers.push(setInterval(fn, ms));
        }, phase(ms)),
      );
    };
    every(settings.pingIntervalSec, () => {
      const t = performance.now();
      room.send('ping', { t });
      stats.count('pings');
      stats.expect('pong', t, 1);
    });
    let n = 0;
    every(settings.statusIntervalSec, () => {
      room.send('status_update', { status: `bot t=${performance.now().toFixed(3)} n=${n++}` });
      stats.count('status_updates');
    });

    return {
      stop: () => timers.forEach((t) => clearTimeout(t)),
      leave: () => leaveQuietly(room, w),
    };
  },
};

if (import.meta.main) runCli(sessionBot);
