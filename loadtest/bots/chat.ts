/**
 * Chat bot: each bot device-authenticates, joins room channel `<BOT_CHAT_PREFIX>-<i mod
 * BOT_CHAT_CHANNELS>` (`create('chat', { type: 1, target })`, so the bots share the channels) and
 * sends `channel_message_send` at BOT_CHAT_RATE messages per second, content `{ t, b, n }` (send
 * time on this process's clock, bot, sequence number).
 *
 * Measured: `ack_rtt` (send → own `channel_message_ack`, matched in order), `echo_rtt` (send → own
 * `channel_message`, which the channel broadcasts to the sender too) and `delivery_latency` (other
 * bots' messages: their send time → arrival here; one way, same clock). Every send expects one ack
 * and one echo: a missing one counts as lost.
 *
 *   npm run bot:chat -- --endpoint ws://127.0.0.1:7350 --numClients 40
 *
 * Settings: BOT_CHAT_CHANNELS (4), BOT_CHAT_RATE (1), BOT_CHAT_PREFIX (`bots`), BOT_CHAT_PERSIST
 * (true: messages are stored, as Nakama's persistence flag), plus common.ts's.
 */
import { performance } from 'node:perf_hooks';
import type { Room } from '@colyseus/sdk';
import {
  Account,
  deviceId,
  envBool,
  envNumber,
  envString,
  leaveQuietly,
  phase,
  runCli,
  sdkClient,
  watch,
  type Bot,
  type BotDefinition,
} from './common.js';

export interface ChatSettings {
  channels: number;
  ratePerSec: number;
  prefix: string;
  persist: boolean;
}

interface ChannelMessage {
  sender_id?: string;
  content?: string;
  code?: number;
}

export const chatBot: BotDefinition<ChatSettings, object> = {
  name: 'chat',
  room: 'chat',
  headline: ['sent', 'acks', 'received'],
  settings: (env) => ({
    channels: Math.max(1, Math.floor(envNumber(env, 'BOT_CHAT_CHANNELS', 4, 1))),
    ratePerSec: envNumber(env, 'BOT_CHAT_RATE', 1, 0.001),
    prefix: envString(env, 'BOT_CHAT_PREFIX', 'bots'),
    persist: envBool(env, 'BOT_CHAT_PERSIST', true),
  }),
  shared: () => ({}),

  async start(options, ctx): Promise<Bot> {
    const { stats, settings } = ctx;
    const account = await Account.device(options.endpoint, ctx.serverKey, deviceId(ctx.name, ctx.runId, options.clientId));
    const target = `${settings.prefix}-${options.clientId % settings.channels}`;
    const room: Room = await sdkClient(options.endpoint, await account.token(), stats).create('chat', {
      type: 1,
      target,
      persistence: settings.persist,
    });
    const w = watch(room, 'chat', ctx);

    // Acks carry no content: they answer this bot's sends in order.
    const pending: number[] = [];
    room.onMessage('channel_message_ack', () => {
      const t = pending.shift();
      stats.count('acks');
      if (t === undefined) return;
      stats.latency('ack_rtt', performance.now() - t);
      stats.arrive('ack', t);
    });
    room.onMessage('error', (m: { type?: string }) => {
      if (m.type === 'channel_message_send') pending.shift();
    });
    room.onMessage('channel_message', (m: ChannelMessage) => {
      if (m.code !== 0 || typeof m.content !== 'string') return;
      let t: number | undefined;
      try {
        t = (JSON.parse(m.content) as { t?: number }).t;
      } catch {
        // not a bot's message
      }
      if (typeof t !== 'number') return;
      const now = performance.now();
      if (m.sender_id === account.userId) {
        stats.latency('echo_rtt', now - t);
        stats.arrive('echo', t);
      } else {
        stats.count('received');
        stats.latency('delivery_latency', now - t);
      }
    });

    const timers: NodeJS.Timeout[] = [];
    const period = 1000 / settings.ratePerSec;
    let n = 0;
    const send = () => {
      const t = performance.now();
      pending.push(t);
      room.send('channel_message_send', { content: { t, b: options.clientId, n: n++ } });
      stats.count('sent');
      stats.expect('ack', t, 1);
      stats.expect('echo', t, 1);
    };
    timers.push(
      setTimeout(() => {
        send();
        timers.push(setInterval(send, period));
      }, phase(period)),
    );

    return {
      stop: () => timers.forEach((t) => clearTimeout(t)),
      leave: () => leaveQuietly(room, w),
    };
  },
};

if (import.meta.main) runCli(chatBot);
