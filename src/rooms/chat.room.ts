/**
 * One room per chat channel: join with `client.create('chat', { type, target, persistence, hidden })`
 * (type 1 room, 2 direct message, 3 group). The room id is derived from the channel id (which has
 * dots, not allowed in Colyseus room ids), so every process maps a target to the same room and a
 * second `create` joins the existing one. The room is a thin adapter over the chat actor.
 */
import type { Client } from '@colyseus/core';
import { z } from 'zod';
import { ChatActor, chatChannel } from '../actors/chat.actor.js';
import * as chat from '../services/chat.js';
import { NotificationCode, sendNotifications } from '../services/notifications.js';
import { TavernRoom, type ClientAuth, type RoomDeps } from './base.room.js';

/** `channel_join` options. */
export const ChannelJoin = z.object({
  type: z.number().int().min(1).max(3),
  target: z.string().min(1).max(128),
  persistence: z.boolean().optional(),
  hidden: z.boolean().optional(),
});

const channelId = z.string().max(300).optional();
const content = z.union([z.string(), z.record(z.string(), z.unknown())]);
export const ChannelMessageSend = z.object({ channel_id: channelId, content });
export const ChannelMessageUpdate = z.object({ channel_id: channelId, message_id: z.string().uuid(), content });
export const ChannelMessageRemove = z.object({ channel_id: channelId, message_id: z.string().uuid() });

/** The room id of a channel: its id in base64url, a charset Colyseus accepts in URLs. */
export const chatRoomId = (channelId: string) => `chat_${Buffer.from(channelId, 'utf8').toString('base64url')}`;

/** What server code publishes on `chat:<channel id>` for the channel's room to deliver. */
export interface ChatEvent {
  type: 'message';
  message: chat.ChannelMessage;
}

export class ChatRoom extends TavernRoom {
  private actor!: ChatActor;
  private channel!: chat.Channel;
  private subscribed = false;
  private readonly onChatEvent = (data: unknown) => {
    try {
      const event = data as ChatEvent;
      if (event?.type === 'message') this.actor.deliver(event.message);
    } catch (err) {
      this.log.error({ err }, 'chat event failed');
    }
  };

  /** Resolves the channel from the (validated) options and the caller, and checks access. */
  static async prepareOptions(options: Record<string, unknown>, auth: ClientAuth, deps: RoomDeps): Promise<void> {
    const join = ChannelJoin.parse(options);
    const c = chat.channelFor(join.type, join.target, auth.userId);
    await chat.checkAccess(deps.em(), c, auth.userId);
    options.channelId = c.id;
  }

  override onCreate(options: { channelId?: unknown }): void {
    if (typeof options.channelId !== 'string') throw new Error('chat room needs a checked channel id');
    this.channel = chat.parseChannelId(options.channelId);
    this.roomId = chatRoomId(this.channel.id);
    this.actor = new ChatActor(
      {
        create: (sender, text, persist) => chat.createMessage(this.deps.em(), this.channel, sender, text, persist),
        update: (senderId, messageId, text) => chat.updateMessage(this.deps.em(), this.channel, senderId, messageId, text),
        remove: (senderId, messageId) => chat.removeMessage(this.deps.em(), this.channel, senderId, messageId),
        broadcast: (type, message, except) => {
          const exceptClient = except ? this.clients.find((c) => c.sessionId === except) : undefined;
          this.broadcast(type, message, exceptClient ? { except: exceptClient } : undefined);
        },
        send: (sessionId, type, message) => this.clients.find((c) => c.sessionId === sessionId)?.send(type, message),
      },
      this.channel,
    );
    this.state = this.actor.state;
    // No side effects here: two processes may create this channel's room at once, and the one
    // that loses the insert is discarded. The presence subscription starts with the first join.
    const limit = this.deps.messageLimitBytes;
    this.handle('channel_message_send', ChannelMessageSend, (client, m) =>
      this.actor.send(this.own(client, m.channel_id), chat.contentText(m.content, limit)),
    );
    this.handle('channel_message_update', ChannelMessageUpdate, (client, m) =>
      this.actor.update(this.own(client, m.channel_id), m.message_id, chat.contentText(m.content, limit)),
    );
    this.handle('channel_message_remove', ChannelMessageRemove, (client, m) =>
      this.actor.remove(this.own(client, m.channel_id), m.message_id),
    );
  }

  /** The sender's session, after checking the message names this channel (when it names one). */
  private own(client: Client, id: string | undefined): string {
    if (id !== undefined && id !== this.channel.id) throw new chat.ChannelMismatch();
    return client.sessionId;
  }

  override async onJoin(client: Client, options: { channelId?: unknown; persistence?: unknown; hidden?: unknown }): Promise<void> {
    if (options.channelId !== this.channel.id) throw new Error('join options name another channel');
    if (!this.subscribed) {
      this.subscribed = true;
      await this.presence.subscribe(chatChannel(this.channel.id), this.onChatEvent);
    }
    const auth = client.auth as ClientAuth;
    const otherAbsent = this.channel.type === chat.ChannelType.DIRECT_MESSAGE && !this.actor.hasUser(otherUser(this.channel, auth.userId));
    const welcome = this.actor.join({
      userId: auth.userId,
      username: auth.username,
      sessionId: client.sessionId,
      persistence: options.persistence !== false,
      hidden: options.hidden === true,
    });
    client.send('channel', welcome);
    if (otherAbsent) {
      // Nakama tells the other user someone wants to talk (code -1) when they are not in the DM.
      await sendNotifications(
        this.deps.em(),
        this.presence,
        [
          {
            userId: otherUser(this.channel, auth.userId),
            subject: `${auth.username} wants to chat`,
            content: { username: auth.username, channel_id: this.channel.id },
            code: NotificationCode.DM_REQUEST,
            senderId: auth.userId,
            persistent: true,
          },
        ],
        { system: true },
      );
    }
  }

  override onLeave(client: Client): void {
    this.actor.leave(client.sessionId);
  }

  override onDispose(): void {
    if (!this.subscribed) return;
    void Promise.resolve(this.presence.unsubscribe(chatChannel(this.channel.id), this.onChatEvent)).catch(() => undefined);
  }
}

function otherUser(c: chat.Channel, userId: string): string {
  return c.userIdOne === userId ? c.userIdTwo! : c.userIdOne!;
}
