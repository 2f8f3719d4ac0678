/**
 * Setup and helpers for the `match` room suites (test/rooms/match*.test.ts): the server settings
 * (the `arena` test module, short windows) per presence, users, and joining a match by id.
 */
import path from 'node:path';
import type { Room } from '@colyseus/sdk';
import { inbox, sdk } from './realtime.js';
import { newDevice, redisUrl } from './server.js';
import { decodeJwt } from './wire.js';

const modules = path.join(import.meta.dirname, '..', 'fixtures', 'match-modules');
/** The presences to run on: the one test/run.ts asks for, else both. */
export const presences = process.env.TAVERN_TEST_PRESENCE ? [process.env.TAVERN_TEST_PRESENCE] : ['local', 'redis'];
/** The messages a match client collects. */
export const MESSAGES = ['match', 'match_presence_event', 'match_data', 'error'];

export const b64 = (s: string) => Buffer.from(s).toString('base64');
export const text = (s: string) => Buffer.from(s, 'base64').toString();

/** Server settings for a suite on `kind` presence. */
export const overridesFor = (kind: string) => ({
  runtimePath: modules,
  reconnectWindowSec: 5,
  shutdownGraceSec: 1,
  ...(kind === 'redis' ? { redisUrl: redisUrl() } : {}),
});

/** Resolves with the close code when the room is left (by the server or the client). */
export const leftWith = (room: Room) => new Promise<number>((resolve) => room.onLeave((code) => resolve(code)));

/** A new device user of the server at `url`, with its user id and username. */
export async function matchUser(url: string) {
  const d = await newDevice(url);
  const claims = decodeJwt(d.token);
  return { ...d, uid: claims.uid, username: claims.usn };
}

/** Joins a match by id on the server at `url` and waits for its `match` message. */
export async function joinMatch(url: string, token: string, matchId: string, options?: Record<string, unknown>) {
  const room = await sdk(url, token).joinById(matchId, options);
  const box = inbox(room, MESSAGES);
  const welcome = await box.take('match');
  return { room, box, welcome, sessionId: welcome.self.session_id as string };
}
