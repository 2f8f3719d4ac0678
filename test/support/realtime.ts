/** Helpers for realtime tests with the Colyseus SDK. */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { matchMaker } from '@colyseus/core';
import { Client, type Room } from '@colyseus/sdk';

/** An SDK client authenticated with a session token. */
export function sdk(url: string, token?: string): Client {
  const client = new Client(url);
  if (token !== undefined) client.auth.token = token;
  return client;
}

/** Waits until `check` stops throwing. */
export async function eventually(check: () => unknown, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(20);
    }
  }
}

/** Collects every message of the given types a room receives, for assertions in order or by predicate. */
export function inbox(room: Room, types: readonly string[]) {
  const messages: { type: string; body: any }[] = [];
  for (const type of types) room.onMessage(type, (body: unknown) => messages.push({ type, body }));
  return {
    messages,
    /** Waits for a message of `type` matching `match`, and removes it from the inbox. */
    async take(type: string, match: (body: any) => boolean = () => true, ms = 5000): Promise<any> {
      let found: { type: string; body: any } | undefined;
      await eventually(() => {
        const i = messages.findIndex((m) => m.type === type && match(m.body));
        assert.ok(i >= 0, `no ${type} message matching yet (have: ${JSON.stringify(messages.map((m) => m.type))})`);
        found = messages.splice(i, 1)[0];
      }, ms);
      return found!.body;
    },
    /** Asserts no message of `type` matching arrives within `ms`. */
    async none(type: string, match: (body: any) => boolean = () => true, ms = 500): Promise<void> {
      await sleep(ms);
      assert.equal(messages.filter((m) => m.type === type && match(m.body)).length, 0, `unexpected ${type} message`);
    },
  };
}

/** The server side of a client's connection (same process): terminating it is an abnormal drop. */
export function serverSocketOf(room: Room): { terminate(): void } {
  const serverRoom = matchMaker.getLocalRoomById(room.roomId);
  assert.ok(serverRoom, `room ${room.roomId} is not in this process`);
  const client = serverRoom.clients.find((c) => c.sessionId === room.sessionId);
  assert.ok(client, `client ${room.sessionId} is not in room ${room.roomId}`);
  return (client as unknown as { ref: { terminate(): void } }).ref;
}
