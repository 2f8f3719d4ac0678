/**
 * SDK clients of the load-test bots: authenticated clients, watched rooms, waiting for messages;
 * re-exported by common.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, type Room } from '@colyseus/sdk';
import { Account, deviceId } from './auth.js';
import type { Stats } from './metrics.js';
import type { BotContext, BotOptions } from './run.js';

// ---------------------------------------------------------------------------------------------
// SDK clients

/**
 * An SDK client whose rooms accept every message type from their first frame (the server sends
 * `channel`, presence events … during the join, and the SDK warns about each type nobody
 * registered).
 */
class BotClient extends Client {
  protected override createRoom<T>(roomName: string, rootSchema?: Parameters<Client['create']>[2]): Room<any, T> {
    const room = super.createRoom<T>(roomName, rootSchema as never);
    room.onMessage('*', () => undefined);
    return room;
  }
}

/**
 * An SDK client of `endpoint` authenticated with `token`. With `stats`, every room WebSocket it
 * opens counts under `sockets.<host:port>`: where the seat reservations sent it (in a fleet, the
 * public address of the process that owns the room).
 */
export function sdkClient(endpoint: string, token: string, stats?: Stats): Client {
  const client = new BotClient(endpoint, {
    urlBuilder: (u: URL) => {
      if (stats && (u.protocol === 'ws:' || u.protocol === 'wss:')) stats.count(`sockets.${u.host}`);
      return u.toString();
    },
  });
  client.auth.token = token;
  return client;
}

/** What `watch` returns: set `leaving` before leaving a room on purpose. */
export interface Watched {
  leaving: boolean;
}

/**
 * Counts a room's `error` messages, socket errors, drops and reconnections into `stats`; a close
 * that nobody asked for (not `leaving`, run not stopping) is an error too.
 */
export function watch(room: Room, what: string, ctx: BotContext<unknown, unknown>): Watched {
  const w: Watched = { leaving: false };
  room.onMessage('error', (m: { type?: string; message?: string; code?: number }) =>
    ctx.stats.error(`${what}.error_message`, `${m.type ?? '?'}: ${m.code ?? '?'} ${m.message ?? ''}`),
  );
  room.onMessage('server_shutdown', () => ctx.stats.count('server_shutdown'));
  room.onError((code, message) => ctx.stats.error(`${what}.socket_error`, `${code} ${message ?? ''}`));
  room.onDrop(() => ctx.stats.count(`${what}.drops`));
  room.onReconnect(() => ctx.stats.count(`${what}.reconnects`));
  room.onLeave((code, reason) => {
    if (!w.leaving && !ctx.stopping) ctx.stats.error(`${what}.closed`, `closed with ${code} ${reason ?? ''}`);
  });
  return w;
}

/** Leaves a room on purpose, ignoring failures (the socket may be gone). */
export async function leaveQuietly(room: Room | undefined, w?: Watched): Promise<void> {
  if (!room) return;
  if (w) w.leaving = true;
  try {
    await Promise.race([room.leave(true), sleep(2000)]);
  } catch {
    // already closed
  }
}

/** Waits for the first message of `type` on `room` that satisfies `match`, or rejects after `ms`. */
export function nextMessage<T>(room: Room, type: string, ms: number, match: (m: T) => boolean = () => true): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${type} within ${ms} ms`));
    }, ms);
    const off = room.onMessage(type, (m: T) => {
      if (!match(m)) return;
      clearTimeout(timer);
      off();
      resolve(m);
    });
  });
}

/** Thrown by `Inbox.take` when its signal aborts (the bot is stopping). */
export class Stopped extends Error {}

/**
 * Keeps every message of some types a room receives, so that a bot can wait for one that may
 * already have arrived (a `matchmaker_matched` racing its `matchmaker_ticket`).
 */
export class Inbox {
  private readonly messages: { type: string; body: any }[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(room: Room, types: readonly string[]) {
    for (const type of types)
      room.onMessage(type, (body: unknown) => {
        this.messages.push({ type, body });
        if (this.messages.length > 100) this.messages.shift();
        for (const w of [...this.waiters]) w();
      });
  }

  /** The first message of `type` matching `match` (removed from the inbox); rejects after `ms` or on `signal`. */
  take<T = any>(type: string, ms: number, signal: AbortSignal, match: (body: T) => boolean = () => true): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        signal.removeEventListener('abort', aborted);
      };
      const check = () => {
        const i = this.messages.findIndex((m) => m.type === type && match(m.body as T));
        if (i < 0) return;
        const body = this.messages.splice(i, 1)[0]!.body as T;
        done();
        resolve(body);
      };
      const aborted = () => {
        done();
        reject(new Stopped('stopping'));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${type} within ${ms} ms`));
      }, ms);
      if (signal.aborted) return aborted();
      signal.addEventListener('abort', aborted);
      this.waiters.add(check);
      check();
    });
  }
}

/**
 * A bot's device-authenticated SDK client and its watched session room (`create('session')`),
 * with an inbox keeping the messages of `types`.
 */
export async function openSession(options: BotOptions, ctx: BotContext<unknown, unknown>, types: readonly string[]) {
  const account = await Account.device(options.endpoint, ctx.serverKey, deviceId(ctx.name, ctx.runId, options.clientId));
  const client = sdkClient(options.endpoint, await account.token(), ctx.stats);
  const session = await client.create('session');
  const sw = watch(session, 'session', ctx);
  const inbox = new Inbox(session, types);
  return { account, client, session, sw, inbox };
}
