/**
 * A chat channel: its member list (schema state, so clients see joins and leaves as state
 * changes), messages, edits and removals. Transport-free: persistence and delivery come through
 * `ChatPorts`; the room adapts it to Colyseus, and nk sends through it from any process.
 */
import { MapSchema, schema, t } from '@colyseus/schema';
import { invalid } from '../errors.js';
import type { ChannelMessage } from '../services/chat.js';

/** A visible member of the channel. */
export const ChatMember = schema(
  {
    userId: t.string(),
    username: t.string(),
    sessionId: t.string(),
    persistence: t.boolean(),
  },
  'ChatMember',
);
export type ChatMember = InstanceType<typeof ChatMember>;

/** The synchronised state of a channel. */
export const ChatState = schema(
  {
    channelId: t.string(),
    type: t.uint8(),
    members: t.map(ChatMember),
  },
  'ChatState',
);
export type ChatState = InstanceType<typeof ChatState>;

/** Nakama's `UserPresence` as chat sends it. */
export interface ChatPresence {
  user_id: string;
  session_id: string;
  username: string;
  persistence: boolean;
}

export interface Joiner {
  userId: string;
  username: string;
  sessionId: string;
  persistence: boolean;
  hidden: boolean;
}

export interface ChatPorts {
  /** Creates (and, when `persist`, stores) a message from a member. */
  create(sender: { userId: string; username: string }, content: string, persist: boolean): Promise<ChannelMessage>;
  update(senderId: string, messageId: string, content: string): Promise<ChannelMessage>;
  remove(senderId: string, messageId: string): Promise<ChannelMessage>;
  /** Sends to every connected member (hidden ones too). */
  broadcast(type: string, message: unknown, except?: string): void;
  /** Sends to one member by session id. */
  send(sessionId: string, type: string, message: unknown): void;
}

/** Where a channel's room hears messages sent by server code on any process. */
export const chatChannel = (channelId: string) => `chat:${channelId}`;

export class ChatActor {
  readonly state: ChatState;
  /** Every connected member by session id, hidden ones included. */
  private readonly joined = new Map<string, Joiner>();

  constructor(
    private readonly ports: ChatPorts,
    readonly channel: { id: string; type: number; roomName?: string; groupId?: string; userIdOne?: string; userIdTwo?: string },
  ) {
    this.state = new ChatState();
    this.state.channelId = channel.id;
    this.state.type = channel.type;
    this.state.members = new MapSchema<ChatMember>();
  }

  private presence(j: Joiner): ChatPresence {
    return { user_id: j.userId, session_id: j.sessionId, username: j.username, persistence: j.persistence };
  }

  private visible(): ChatPresence[] {
    return [...this.joined.values()].filter((j) => !j.hidden).map((j) => this.presence(j));
  }

  private channelFields() {
    const c = this.channel;
    return {
      ...(c.roomName !== undefined ? { room_name: c.roomName } : {}),
      ...(c.groupId ? { group_id: c.groupId } : {}),
      ...(c.userIdOne ? { user_id_one: c.userIdOne, user_id_two: c.userIdTwo } : {}),
    };
  }

  get size(): number {
    return this.joined.size;
  }

  /** Whether a user (any of their sessions) is in the channel. */
  hasUser(userId: string): boolean {
    for (const j of this.joined.values()) if (j.userId === userId) return true;
    return false;
  }

  /** Adds a member; returns Nakama's `channel` message for the joiner. */
  join(j: Joiner) {
    this.joined.set(j.sessionId, j);
    if (!j.hidden) {
      const m = new ChatMember();
      m.userId = j.userId;
      m.username = j.username;
      m.sessionId = j.sessionId;
      m.persistence = j.persistence;
      this.state.members.set(j.sessionId, m);
      this.ports.broadcast(
        'channel_presence_event',
        { channel_id: this.channel.id, joins: [this.presence(j)], ...this.channelFields() },
        j.sessionId,
      );
    }
    return { id: this.channel.id, presences: this.visible(), self: this.presence(j), ...this.channelFields() };
  }

  leave(sessionId: string): void {
    const j = this.joined.get(sessionId);
    if (!j) return;
    this.joined.delete(sessionId);
    if (!j.hidden) {
      this.state.members.delete(sessionId);
      this.ports.broadcast('channel_presence_event', { channel_id: this.channel.id, leaves: [this.presence(j)], ...this.channelFields() });
    }
  }

  private member(sessionId: string): Joiner {
    const j = this.joined.get(sessionId);
    if (!j) throw invalid('Not a member of this channel.');
    return j;
  }

  /** A member sends: stored per their join's persistence, acknowledged to them, delivered to all. */
  async send(sessionId: string, content: string): Promise<void> {
    const j = this.member(sessionId);
    const message = await this.ports.create({ userId: j.userId, username: j.username }, content, j.persistence);
    this.ports.send(sessionId, 'channel_message_ack', ack(message));
    this.ports.broadcast('channel_message', message);
  }

  async update(sessionId: string, messageId: string, content: string): Promise<void> {
    const j = this.member(sessionId);
    const message = await this.ports.update(j.userId, messageId, content);
    this.ports.send(sessionId, 'channel_message_ack', ack(message));
    this.ports.broadcast('channel_message', message);
  }

  async remove(sessionId: string, messageId: string): Promise<void> {
    const j = this.member(sessionId);
    const message = await this.ports.remove(j.userId, messageId);
    this.ports.send(sessionId, 'channel_message_ack', ack(message));
    this.ports.broadcast('channel_message', message);
  }

  /** A message created elsewhere (server code): delivered to everyone here. */
  deliver(message: ChannelMessage): void {
    if (message.channel_id !== this.channel.id) return;
    this.ports.broadcast('channel_message', message);
  }
}

/** Nakama's `ChannelMessageAck`: the message without its content and sender. */
function ack(m: ChannelMessage) {
  const { content: _content, sender_id: _sender, ...rest } = m;
  return rest;
}
