/** `nk` chat functions: build channel ids, and send, edit, remove and list messages from server code. */
import { chatChannel } from '../actors/chat.actor.js';
import { invalid } from '../errors.js';
import * as chat from '../services/chat.js';
import type { Em } from '../services/db.js';
import type { Publisher } from '../services/ports.js';
import * as v from '../services/validation.js';

const SYSTEM = '00000000-0000-0000-0000-000000000000';

/** Acknowledgement of a message sent by server code (Nakama's `ChannelMessageAck`, camelCase). */
export interface RuntimeMessageAck {
  channelId: string;
  messageId: string;
  code: number;
  username: string;
  createTime: number;
  updateTime: number;
  persistent: boolean;
}

const seconds = (s: string) => Math.floor(new Date(s).getTime() / 1000);
const ackOf = (m: chat.ChannelMessage): RuntimeMessageAck => ({
  channelId: m.channel_id,
  messageId: m.message_id,
  code: m.code,
  username: m.username,
  createTime: seconds(m.create_time),
  updateTime: seconds(m.update_time),
  persistent: m.persistent,
});

export function chatNk(em: () => Em, publisher: Publisher, messageLimitBytes: number) {
  /** Delivers to the channel's room, on whichever process it lives. */
  const deliver = async (m: chat.ChannelMessage) => {
    await publisher.publish(chatChannel(m.channel_id), { type: 'message', message: m });
  };
  const sender = (senderId?: string | null, username?: string | null) => {
    if (senderId && !v.uuid.safeParse(senderId).success) throw invalid(`Invalid sender ID '${senderId}'.`);
    return { userId: senderId || SYSTEM, username: username ?? '' };
  };
  return {
    channelIdBuild(senderId: string | null | undefined, target: string, type: number): string {
      return chat.channelIdBuild(senderId ?? SYSTEM, target, type);
    },
    async channelMessageSend(
      channelId: string,
      content: Record<string, unknown>,
      senderId?: string | null,
      senderUsername?: string | null,
      persist = true,
    ) {
      const c = chat.parseChannelId(channelId);
      const m = await chat.createMessage(em(), c, sender(senderId, senderUsername), chat.contentText(content, messageLimitBytes), persist);
      await deliver(m);
      return ackOf(m);
    },
    /** Edits any stored message of the channel (server code is not bound to the sender). */
    async channelMessageUpdate(channelId: string, messageId: string, content: Record<string, unknown>) {
      const c = chat.parseChannelId(channelId);
      const m = await chat.updateMessage(em(), c, null, messageId, chat.contentText(content, messageLimitBytes));
      await deliver(m);
      return ackOf(m);
    },
    async channelMessageRemove(channelId: string, messageId: string) {
      const c = chat.parseChannelId(channelId);
      const m = await chat.removeMessage(em(), c, null, messageId);
      await deliver(m);
      return ackOf(m);
    },
    async channelMessagesList(channelId: string, limit = 100, forward = true, cursor?: string) {
      const c = chat.parseChannelId(channelId);
      const page = await chat.listMessages(em(), c, { limit, forward, ...(cursor ? { cursor } : {}) });
      return {
        messages: page.messages.map((m) => ({
          channelId: m.channel_id,
          messageId: m.message_id,
          code: m.code,
          senderId: m.sender_id,
          username: m.username,
          content: JSON.parse(m.content) as Record<string, unknown>,
          createTime: seconds(m.create_time),
          updateTime: seconds(m.update_time),
          persistent: true,
        })),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
        ...(page.prevCursor ? { prevCursor: page.prevCursor } : {}),
      };
    },
  };
}
